//! The TOML configuration file (`--config FILE`): the `serve` settings, each optional. Flags and the
//! environment override it; `settings.rs` resolves the three. Secrets do not belong in it (the admin
//! password comes only from the environment); a password in a `postgres://` store URL is never printed.
//!
//! ```toml
//! listen = "0.0.0.0:8080"
//! store = "postgres://openframe:secret@db.internal/openframe"
//! log_format = "json"
//! metrics_listen = "127.0.0.1:9100"
//! tls_cert = "/etc/openframe/cert.pem"   # serve HTTPS (both or neither; reloaded on SIGHUP)
//! tls_key = "/etc/openframe/key.pem"
//! max_connections = 1024
//! header_read_timeout = 15   # seconds, like the other three below
//! body_read_timeout = 30
//! response_write_timeout = 30
//! shutdown_grace = 30
//! ```
//!
//! Every value is checked when the file is read: an unknown key or a bad value is an error naming the file
//! and the key, on one line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::logging::LogFormat;
use openframe_stores::StoreUrl;

/// Every key the file may hold.
pub const KEYS: &[&str] = &[
    "listen",
    "store",
    "log_format",
    "metrics_listen",
    "tls_cert",
    "tls_key",
    "max_connections",
    "header_read_timeout",
    "body_read_timeout",
    "response_write_timeout",
    "shutdown_grace",
];

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
    /// `tls_cert`: the certificate chain (PEM) to serve the API over TLS with.
    pub tls_cert: Option<PathBuf>,
    /// `tls_key`: its private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// `max_connections`: most connections open at once.
    pub max_connections: Option<u32>,
    /// `header_read_timeout`, in whole seconds.
    pub header_read_timeout: Option<Duration>,
    /// `body_read_timeout`, in whole seconds.
    pub body_read_timeout: Option<Duration>,
    /// `response_write_timeout`, in whole seconds.
    pub response_write_timeout: Option<Duration>,
    /// `shutdown_grace`, in whole seconds.
    pub shutdown_grace: Option<Duration>,
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
            let count = || match value {
                toml::Value::Integer(n) if *n >= 1 => u32::try_from(*n)
                    .map_err(|_| bad(format!("must be at most {} (got {n})", u32::MAX))),
                toml::Value::Integer(n) => Err(bad(format!("must be at least 1 (got {n})"))),
                other => Err(bad(format!(
                    "must be a whole number, not {}",
                    other.type_str()
                ))),
            };
            let seconds = || count().map(|n| Duration::from_secs(n.into()));
            match key.as_str() {
                "listen" => file.listen = Some(socket_addr(text()?).map_err(bad)?),
                "store" => {
                    let url = text()?;
                    StoreUrl::parse(url).map_err(bad)?;
                    file.store = Some(url.to_owned());
                }
                "log_format" => file.log_format = Some(text()?.parse().map_err(bad)?),
                "tls_cert" => file.tls_cert = Some(PathBuf::from(text()?)),
                "tls_key" => file.tls_key = Some(PathBuf::from(text()?)),
                "metrics_listen" => {
                    file.metrics_listen = Some(socket_addr(text()?).map_err(bad)?);
                }
                "max_connections" => file.max_connections = Some(count()?),
                "header_read_timeout" => file.header_read_timeout = Some(seconds()?),
                "body_read_timeout" => file.body_read_timeout = Some(seconds()?),
                "response_write_timeout" => file.response_write_timeout = Some(seconds()?),
                "shutdown_grace" => file.shutdown_grace = Some(seconds()?),
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
        let file = parse(
            "max_connections = 64\nheader_read_timeout = 5\nbody_read_timeout = 6\nshutdown_grace = 7\n",
        )
        .unwrap();
        assert_eq!(file.max_connections, Some(64));
        assert_eq!(file.header_read_timeout, Some(Duration::from_secs(5)));
        assert_eq!(file.body_read_timeout, Some(Duration::from_secs(6)));
        assert_eq!(file.shutdown_grace, Some(Duration::from_secs(7)));
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
            ("max_connections = 0", "max_connections"),
            ("max_connections = \"64\"", "max_connections"),
            ("header_read_timeout = 1.5", "header_read_timeout"),
            ("shutdown_grace = 99999999999", "shutdown_grace"),
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
