//! What the commands print.

use anyhow::Result;
use halley_vault::tree::{Node, NodeKind};
use halley_vault::verify::VerifyReport;
use halley_vault::SnapshotInfo;

pub fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| t.to_string())
}

fn snapshot_json(s: &SnapshotInfo) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(&s.snapshot)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), serde_json::Value::String(s.id.to_hex()));
    }
    Ok(v)
}

pub fn backup_done(s: &SnapshotInfo, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&snapshot_json(s)?)?);
        return Ok(());
    }
    let m = &s.snapshot.summary;
    println!(
        "snapshot {} saved: {} files, {} dirs, {} ({} files read, {} new, {} stored)",
        s.id.short(),
        m.files,
        m.dirs,
        bytes(m.bytes),
        m.files_read,
        bytes(m.new_bytes),
        bytes(m.stored_bytes)
    );
    for e in &m.errors {
        eprintln!("  skipped: {e}");
    }
    Ok(())
}

pub fn snapshots(list: &[SnapshotInfo], json: bool) -> Result<()> {
    if json {
        let v = list.iter().map(snapshot_json).collect::<Result<Vec<_>>>()?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "{:<10} {:<19} {:<14} {:<12} {:>10}  paths",
        "id", "time", "host", "source", "size"
    );
    for s in list {
        let sn = &s.snapshot;
        println!(
            "{:<10} {:<19} {:<14} {:<12} {:>10}  {}",
            s.id.short(),
            time(sn.time),
            sn.hostname,
            sn.source,
            bytes(sn.summary.bytes),
            sn.paths.join(" ")
        );
    }
    println!("{} snapshots", list.len());
    Ok(())
}

pub fn listing(entries: &[(String, Node)], json: bool) -> Result<()> {
    for (path, n) in entries {
        if json {
            let mut v = serde_json::to_value(n)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("path".into(), serde_json::Value::String(path.clone()));
                o.remove("content");
            }
            println!("{}", serde_json::to_string(&v)?);
            continue;
        }
        let kind = match n.kind {
            NodeKind::Dir => 'd',
            NodeKind::Symlink => 'l',
            NodeKind::Fifo => 'p',
            NodeKind::Socket => 's',
            NodeKind::CharDevice => 'c',
            NodeKind::BlockDevice => 'b',
            NodeKind::File => '-',
        };
        let target = n
            .target
            .as_ref()
            .map(|t| format!(" -> {}", t.lossy()))
            .unwrap_or_default();
        println!(
            "{kind}{:04o} {:>6} {:>6} {:>12} {} {path}{target}",
            n.mode,
            n.uid,
            n.gid,
            n.size,
            time(n.mtime)
        );
    }
    Ok(())
}

pub fn verify(r: &VerifyReport, deep: bool) {
    for p in &r.problems {
        eprintln!("problem: {p}");
    }
    for a in &r.affected {
        eprintln!(
            "damaged: snapshot {} {}: {}",
            a.snapshot.short(),
            a.path,
            a.reason
        );
    }
    println!(
        "checked {} snapshots, {} packs{}; {} packs left by interrupted backups (prune removes them)",
        r.snapshots,
        r.packs,
        if deep {
            format!(", {} blobs read", r.blobs_read)
        } else {
            String::new()
        },
        r.unindexed_packs
    );
    if r.is_ok() {
        println!("no problems found");
    }
}
