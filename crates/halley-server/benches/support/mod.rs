//! Shared by the benchmarks: a release `halleyd` on an ephemeral port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Halleyd {
    child: Child,
    pub url: String,
}

impl Halleyd {
    pub fn start(data_dir: &Path, extra_args: &[&str]) -> Halleyd {
        let mut child = Command::new(env!("CARGO_BIN_EXE_halleyd"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .env("HALLEY_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .expect("halleyd starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("halleyd prints its address")
                .expect("a line");
            if let Some(url) = line.strip_prefix("halleyd listening on ") {
                break url.to_string();
            }
        };
        Halleyd { child, url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client of the default `admin` with a session key (no login event
    /// beside each call, unlike password credentials).
    pub async fn admin_session(&self) -> halley_client::Client {
        use halley_client::{Auth, Client};
        let key = Client::new(&self.url, Auth::password("admin", "admin"))
            .admin_account_session_start()
            .await
            .unwrap()
            .session_key;
        Client::new(&self.url, Auth::session("admin", key))
    }
}

impl Drop for Halleyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
