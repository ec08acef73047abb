//! `openframe export`, `openframe import` and `openframe backup`: the command-line ends of
//! `openframe_core::portability` and `openframe_store_sqlite::backup`. Data goes through standard output and
//! input; progress and the summary go to standard error, one line each.

use std::io::{self, BufReader, BufWriter};
use std::path::Path;

use openframe_core::portability::{self, Counts, IMPORT_BATCH_RECORDS};

use openframe_stores::StoreUrl;

/// An error with its sources, on one line: the CLI's only chance to say what went wrong.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// Writes the whole store at `url`, which must exist, to standard output.
pub async fn export(url: &StoreUrl) -> Result<(), String> {
    let repo = url.open_existing().await.map_err(|e| open_error(url, &e))?;
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout());
    let counts = portability::export(repo.as_ref(), &mut out, &mut |c: &Counts| {
        eprintln!("openframe: exported {} records…", c.total());
    })
    .await
    .map_err(|e| format!("export from {url} failed: {}", describe(&e)))?;
    eprintln!("openframe: exported {counts}");
    Ok(())
}

/// Reads a dump from standard input into the store at `url` (migrated first).
pub async fn import(url: &StoreUrl) -> Result<(), String> {
    let repo = url.open().await.map_err(|e| open_error(url, &e))?;
    let mut input = BufReader::with_capacity(1 << 16, io::stdin());
    let counts = portability::import(
        repo.as_ref(),
        &mut input,
        IMPORT_BATCH_RECORDS,
        &mut |c: &Counts| eprintln!("openframe: imported {} records…", c.total()),
    )
    .await
    .map_err(|e| {
        let written = match e.written.total() {
            0 => "nothing was written".to_owned(),
            _ => format!("the {} before it stay written", e.written),
        };
        format!("import into {url} stopped at {}; {written}", describe(&e))
    })?;
    eprintln!("openframe: imported {counts}");
    Ok(())
}

/// Copies the SQLite database at `url` to `dest`, safely while a server writes to it.
pub async fn backup(url: &StoreUrl, dest: &Path) -> Result<(), String> {
    let StoreUrl::Sqlite(source) = url else {
        return Err(format!(
            "backup works on sqlite://PATH stores only, not {url} (use `openframe export` for the others)"
        ));
    };
    let (source, target) = (source.clone(), dest.to_path_buf());
    let report =
        tokio::task::spawn_blocking(move || openframe_store_sqlite::backup(&source, &target))
            .await
            .map_err(|e| format!("backup failed: {e}"))?
            .map_err(|e| format!("backup of {url} failed: {}", describe(&e)))?;
    eprintln!(
        "openframe: backed up {url} to {} ({} interactions, {} bytes)",
        dest.display(),
        report.interactions,
        report.bytes
    );
    Ok(())
}

fn open_error(url: &StoreUrl, e: &openframe_core::Error) -> String {
    format!("cannot open store {url}: {}", describe(e))
}
