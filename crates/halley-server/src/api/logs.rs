//! `meta/list-available-log-days`, `read-logs`, `read-select-logs` and
//! `read-all-logs`: the server's daily log files. A day is named by the Unix
//! time of its start (UTC).

use std::io::Write;

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::logging;

pub async fn days(call: Call) -> ApiResult<Reply> {
    let days: Vec<i64> = logging::days(&call.state.data_dir)
        .into_iter()
        .map(|(day, _)| day)
        .collect();
    Ok(Reply::json(&days))
}

async fn read_days(call: &Call, wanted: &[i64], param: &str) -> ApiResult<Vec<u8>> {
    let available = logging::days(&call.state.data_dir);
    let mut body = Vec::new();
    for day in wanted {
        let (_, path) = available.iter().find(|(d, _)| d == day).ok_or_else(|| {
            ApiError::invalid_param(param, format!("there is no log for day {day}"))
        })?;
        body.extend(tokio::fs::read(path).await.map_err(ApiError::internal)?);
    }
    Ok(body)
}

fn text(body: Vec<u8>) -> Reply {
    Reply::Bytes {
        content_type: "text/plain; charset=utf-8",
        body,
    }
}

pub async fn read(call: Call) -> ApiResult<Reply> {
    let day = call
        .params
        .opt_int("Log")?
        .ok_or_else(|| ApiError::missing_param("Log"))?;
    Ok(text(read_days(&call, &[day], "Log").await?))
}

pub async fn read_select(call: Call) -> ApiResult<Reply> {
    let days: Vec<i64> = call.params.json("Logs")?;
    Ok(text(read_days(&call, &days, "Logs").await?))
}

/// Every log file in one ZIP archive.
pub async fn read_all(call: Call) -> ApiResult<Reply> {
    let files = logging::days(&call.state.data_dir);
    let body = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (_, path) in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            archive.start_file(name, options)?;
            archive.write_all(&std::fs::read(&path)?)?;
        }
        Ok(archive.finish()?.into_inner())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Reply::Bytes {
        content_type: "application/zip",
        body,
    })
}
