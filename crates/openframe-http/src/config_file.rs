//! The TOML configuration file (`--config FILE`): the `serve` settings, each optional. Flags and the
//! environment override it; `settings.rs` resolves the three. Secrets do not belong in it (the admin
//! password comes only from the environment); a password in a `postgres://` store URL is never printed.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! store = "postgres://openframe:secret@db.internal/openframe"
//! log_format = "json"
//! metrics_listen = "127.0.0.1:9100"
//! ```
//!
//! Every value is checked when the file is read: an unknown key or a bad value is an error naming the file
//! and the key, on one line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::logging::LogFormat;
use crate::store_url::StoreUrl;

/// Every key the file may hold.
pub const KEYS: &[&str] = &["listen", "store", "log_format", "metrics_listen"];

/// The settings a configuration file gives; `None` where it is silent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// Where it was read from; `None` when no file was given.
    pub path: Option<PathBuf>,
    /// `listen`: the API's address.
    pub listen: Option<SocketAddr>,
    /// `store`: the store URL (checked, not opened).
    pub store: Option<String>,
    /// `log_format`: `human` or `json`.
    pub log_format: Option<LogFormat>,
    /// `metrics_listen`: a separate address for `/metrics`.
    pub metrics_listen: Option<SocketAddr>,
}

impl ConfigFile {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Checks `text`, the contents of the file at `path` (which messages name).
    pub fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let at = path.display();
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .and_then(|span| text.get(..span.start))
                .map(|before| before.matches('\n').count() + 1);
            let why = e.message().trim().replace('\n', " ");
            match line {
                Some(line) => format!("{at}:{line}: not valid TOML: {why}"),
                None => format!("{at}: not valid TOML: {why}"),
            }
        })?;
        let mut file = ConfigFile {
            path: Some(path.to_owned()),
            ..ConfigFile::default()
        };
        for (key, value) in &table {
            let bad = |why: String| format!("{at}: {key}: {why}");
            let text = || match value {
                toml::Value::String(s) => Ok(s.as_str()),
                other => Err(bad(format!("must be a string, not {}", other.type_str()))),
            };
            match key.as_str() {
                "listen" => file.listen = Some(socket_addr(text()?).map_err(bad)?),
                "store" => {
                    let url = text()?;
                    StoreUrl::parse(url).map_err(bad)?;
                    file.store = Some(url.to_owned());
                }
                "log_format" => file.log_format = Some(text()?.parse().map_err(bad)?),
                "metrics_listen" => {
                    file.metrics_listen = Some(socket_addr(text()?).map_err(bad)?);
                }
                _ => {
                    return Err(format!(
                        "{at}: unknown key {key:?} (known keys: {})",
                        KEYS.join(", ")
                    ));
                }
            }
        }
        Ok(file)
    }
}

fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("must be an address like 127.0.0.1:8080 (got {text:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, String> {
        ConfigFile::parse(text, Path::new("/etc/openframe.toml"))
    }

    #[test]
    fn reads_every_key() {
        let file = parse(
            "listen = \"0.0.0.0:8080\"\nstore = \"sled:///var/lib/of\"\nlog_format = \"json\"\n\
             metrics_listen = \"127.0.0.1:9100\"\n",
        )
        .unwrap();
        assert_eq!(file.listen, Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(file.store.as_deref(), Some("sled:///var/lib/of"));
        assert_eq!(file.log_format, Some(LogFormat::Json));
        assert_eq!(file.metrics_listen, Some("127.0.0.1:9100".parse().unwrap()));
        assert_eq!(parse("").unwrap().listen, None);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = parse("listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n").unwrap_err();
        assert!(
            err.starts_with("/etc/openframe.toml: unknown key \"listen_addr\""),
            "{err}"
        );
        let err = parse("[serve]\nlisten = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.contains("unknown key \"serve\""), "{err}");
    }

    #[test]
    fn a_bad_value_names_the_file_and_the_key() {
        for (text, key) in [
            ("listen = \"localhost\"", "listen"),
            ("listen = 8080", "listen"),
            ("metrics_listen = \"\"", "metrics_listen"),
            ("log_format = \"xml\"", "log_format"),
            ("store = \"mysql://root:hunter2@db/x\"", "store"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(
                err.starts_with(&format!("/etc/openframe.toml: {key}: ")),
                "{text}: {err}"
            );
            assert!(!err.contains('\n'), "one line: {err}");
            assert!(!err.contains("hunter2"), "no password: {err}");
        }
    }

    #[test]
    fn bad_toml_is_one_line_with_its_line_number() {
        let err = parse("listen = \"127.0.0.1:1\"\nstore = \n").unwrap_err();
        assert!(
            err.starts_with("/etc/openframe.toml:2: not valid TOML"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}
