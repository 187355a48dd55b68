//! Turns an API `DestinationLocation` into a `halley-vault` backend: a local
//! path (`DESTINATIONTYPE_LOCALCOPY`), an S3-compatible bucket
//! (`DESTINATIONTYPE_S3`), an SFTP server (`DESTINATIONTYPE_SFTP`, password
//! authentication, host key checked against a known-hosts file) or a WebDAV
//! server (`DESTINATIONTYPE_WEBDAV`) or an Azure Blob Storage container
//! (`DESTINATIONTYPE_AZUREBLOB`) or a bucket of a Storage Role server
//! (`DESTINATIONTYPE_COMET`). Backblaze B2 is reached through its S3 API:
//! type 1000 with `S3Server` `s3.REGION.backblazeb2.com`. Other types are
//! refused by name.

use std::path::PathBuf;
use std::sync::Arc;

use halley_api::constants::*;
use halley_api::types::DestinationLocation;
use halley_vault::backend::{
    open_azure, open_s3, open_webdav, AzureLocation, Backend, BucketBackend, BucketLocation,
    LocalBackend, S3Location, SftpBackend, SftpLocation,
};

pub fn open(location: &DestinationLocation) -> Result<Arc<dyn Backend>, String> {
    match location.destination_type {
        DESTINATIONTYPE_LOCALCOPY => {
            if location.localcopy_path.is_empty() {
                return Err("LocalcopyPath is empty".into());
            }
            Ok(Arc::new(LocalBackend::new(&location.localcopy_path)))
        }
        DESTINATIONTYPE_S3 => {
            let endpoint = match location.s3_server.as_str() {
                "" => String::new(),
                server if server.contains("://") => server.to_string(),
                server if location.s3_uses_tls => format!("https://{server}"),
                server => format!("http://{server}"),
            };
            open_s3(&S3Location {
                endpoint,
                region: location.s3_custom_region.clone(),
                bucket: location.s3_bucket_name.clone(),
                prefix: location.s3_subdir.clone(),
                access_key: location.s3_access_key.clone(),
                secret_key: location.s3_secret_key.clone(),
            })
            .map_err(|e| e.to_string())
        }
        DESTINATIONTYPE_SFTP => {
            let (host, port) = match location.sftp_server.rsplit_once(':') {
                Some((host, port)) => (
                    host.to_string(),
                    port.parse()
                        .map_err(|_| format!("SFTPServer '{}': bad port", location.sftp_server))?,
                ),
                None => (location.sftp_server.clone(), 0),
            };
            if !location.sftp_custom_auth_use_known_hosts_file
                || location.sftp_custom_auth_known_hosts_file.is_empty()
            {
                return Err("SFTP needs SFTPCustomAuth_UseKnownHostsFile and a known-hosts file, so the server's key is checked".into());
            }
            let backend = SftpBackend::connect(&SftpLocation {
                host,
                port,
                user: location.sftp_username.clone(),
                private_key: None,
                password: Some(location.sftp_password.clone()),
                known_hosts: PathBuf::from(&location.sftp_custom_auth_known_hosts_file),
                path: location.sftp_remote_path.clone(),
            })
            .map_err(|e| e.to_string())?;
            Ok(Arc::new(backend))
        }
        DESTINATIONTYPE_WEBDAV => {
            let dav = &location.web_dav;
            let base = dav.dav_server.trim_end_matches('/');
            let url = format!("{base}/{}", dav.path.trim_start_matches('/'));
            let user = (!dav.user_name.is_empty()).then_some(dav.user_name.as_str());
            open_webdav(&url, user, Some(&dav.access_key)).map_err(|e| e.to_string())
        }
        DESTINATIONTYPE_AZUREBLOB => open_azure(&AzureLocation {
            account: location.azb_account_name.clone(),
            container: location.azb_container.clone(),
            prefix: location.azb_prefix.trim_matches('/').to_string(),
            access_key: Some(location.azb_account_key.clone()).filter(|k| !k.is_empty()),
            sas_token: None,
            endpoint: azure_endpoint(&location.azb_account_name, &location.azb_realm),
        })
        .map_err(|e| e.to_string()),
        DESTINATIONTYPE_COMET => Ok(Arc::new(
            BucketBackend::open(&BucketLocation {
                server: location.comet_server.clone(),
                bucket: location.comet_bucket.clone(),
                key: location.comet_bucket_key.clone(),
            })
            .map_err(|e| e.to_string())?,
        )),
        DESTINATIONTYPE_B2 => Err(format!(
            "DestinationType {DESTINATIONTYPE_B2} (B2's own API) is not built: use B2's S3 API, DestinationType {DESTINATIONTYPE_S3} with S3Server s3.REGION.backblazeb2.com"
        )),
        other => Err(format!(
            "DestinationType {other} cannot hold a Halley vault here (use {DESTINATIONTYPE_LOCALCOPY} local path, {DESTINATIONTYPE_S3} S3, {DESTINATIONTYPE_SFTP} SFTP, {DESTINATIONTYPE_WEBDAV} WebDAV, {DESTINATIONTYPE_AZUREBLOB} Azure or {DESTINATIONTYPE_COMET} a Storage Role bucket)"
        )),
    }
}

/// Opens `location` and lists it (blocking): whether it can be used, or
/// why not, before anyone relies on it.
pub fn probe(location: &DestinationLocation) -> Result<(), String> {
    let backend = open(location)?;
    backend.prepare(false).map_err(|e| e.to_string())?;
    backend.list("keys/").map(|_| ()).map_err(|e| e.to_string())
}

/// `AZBRealm` is the endpoint suffix (`core.windows.net` when empty, or a
/// sovereign cloud's such as `core.chinacloudapi.cn`); a realm with a scheme
/// is taken as the whole account URL, which is how an emulator is reached.
fn azure_endpoint(account: &str, realm: &str) -> String {
    match realm.trim_end_matches('/') {
        "" => String::new(),
        url if url.contains("://") => url.to_string(),
        suffix => format!("https://{account}.blob.{suffix}"),
    }
}
