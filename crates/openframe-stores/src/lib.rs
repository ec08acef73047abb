//! # openframe-stores
//!
//! Opens an openframe store from a URL, so that a program chooses its storage per deployment without naming
//! a store crate: `sqlite://PATH`, `sqlite::memory:`, `postgres://…` / `postgresql://…`, `sled://PATH`,
//! `memory://`.
//!
//! Each store is a cargo feature — `sqlite` (the default), `sled`, `postgres` — and only the enabled ones
//! are compiled; `memory://` is always there. A URL whose store is not compiled in is refused by
//! [`StoreUrl::parse`] with a message naming the feature.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use openframe_stores::StoreUrl;
//! let repo = StoreUrl::parse("sqlite://openframe.db")?.open().await?;
//! // `repo` is an `Arc<dyn openframe_core::Repository>`: hand it to the router or to a `Service`.
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use openframe_core::{MemoryRepository, Repository};

/// The default store: a SQLite file in the working directory.
pub const DEFAULT_STORE: &str = "sqlite://openframe.db";

/// A parsed store URL.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A private in-memory SQLite database.
    SqliteMemory,
    /// A PostgreSQL database (the URL as given, password included: never print it).
    Postgres(String),
    /// A sled directory.
    Sled(PathBuf),
    /// The in-memory reference store.
    Memory,
}

impl StoreUrl {
    /// Parses a store URL. A URL of a store whose feature is not enabled is an error naming the feature.
    ///
    /// ```
    /// use openframe_stores::StoreUrl;
    /// assert_eq!(StoreUrl::parse("sqlite://openframe.db").unwrap(), StoreUrl::Sqlite("openframe.db".into()));
    /// assert_eq!(StoreUrl::parse("sqlite:///var/lib/of.db").unwrap(), StoreUrl::Sqlite("/var/lib/of.db".into()));
    /// assert!(StoreUrl::parse("mysql://x").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Self, String> {
        let parsed = Self::parse_any(url)?;
        match parsed.feature() {
            Some(feature) if !parsed.is_compiled_in() => Err(format!(
                "store URL {:?} needs openframe-stores' `{feature}` feature, which this build does not have",
                redact(url)
            )),
            _ => Ok(parsed),
        }
    }

    /// The cargo feature that compiles this URL's store in (`None` for `memory://`).
    pub fn feature(&self) -> Option<&'static str> {
        match self {
            StoreUrl::Sqlite(_) | StoreUrl::SqliteMemory => Some("sqlite"),
            StoreUrl::Postgres(_) => Some("postgres"),
            StoreUrl::Sled(_) => Some("sled"),
            StoreUrl::Memory => None,
        }
    }

    /// Whether this build can open this URL's store.
    pub fn is_compiled_in(&self) -> bool {
        match self {
            StoreUrl::Sqlite(_) | StoreUrl::SqliteMemory => cfg!(feature = "sqlite"),
            StoreUrl::Postgres(_) => cfg!(feature = "postgres"),
            StoreUrl::Sled(_) => cfg!(feature = "sled"),
            StoreUrl::Memory => true,
        }
    }

    /// The syntax alone, whatever is compiled in.
    fn parse_any(url: &str) -> Result<Self, String> {
        let path = |rest: &str, scheme: &str| {
            if rest.is_empty() {
                Err(format!("store URL {scheme}PATH needs a path"))
            } else {
                Ok(PathBuf::from(rest))
            }
        };
        if url == "sqlite::memory:" {
            Ok(StoreUrl::SqliteMemory)
        } else if let Some(rest) = url.strip_prefix("sqlite://") {
            path(rest, "sqlite://").map(StoreUrl::Sqlite)
        } else if let Some(rest) = url.strip_prefix("sled://") {
            path(rest, "sled://").map(StoreUrl::Sled)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreUrl::Postgres(url.to_owned()))
        } else if url == "memory://" {
            Ok(StoreUrl::Memory)
        } else {
            Err(format!(
                "unsupported store URL {:?}: expected sqlite://PATH, sqlite::memory:, postgres://…, sled://PATH or memory://",
                redact(url)
            ))
        }
    }

    /// Opens (and migrates) the store. [`openframe_core::Error::Invalid`] (field `store`) when its feature is
    /// not compiled in.
    pub async fn open(&self) -> openframe_core::Result<Arc<dyn Repository>> {
        Ok(match self {
            #[cfg(feature = "sqlite")]
            StoreUrl::Sqlite(path) => {
                let path = path.clone();
                Arc::new(
                    blocking(move || openframe_store_sqlite::SqliteRepository::open(&path)).await?,
                )
            }
            #[cfg(feature = "sqlite")]
            StoreUrl::SqliteMemory => {
                Arc::new(openframe_store_sqlite::SqliteRepository::open_in_memory()?)
            }
            #[cfg(feature = "postgres")]
            StoreUrl::Postgres(url) => Arc::new(
                openframe_store_postgres::PostgresRepository::connect(
                    url,
                    openframe_store_postgres::PostgresOptions::default(),
                )
                .await?,
            ),
            #[cfg(feature = "sled")]
            StoreUrl::Sled(path) => {
                let path = path.clone();
                Arc::new(blocking(move || openframe_store_sled::SledRepository::open(&path)).await?)
            }
            StoreUrl::Memory => Arc::new(MemoryRepository::new()),
            #[allow(unreachable_patterns)]
            other => {
                return Err(openframe_core::Error::invalid(
                    "store",
                    format!(
                        "{other} needs openframe-stores' `{}` feature, which this build does not have",
                        other.feature().unwrap_or_default()
                    ),
                ));
            }
        })
    }
}

impl StoreUrl {
    /// Opens (and migrates) a store that must already exist, creating nothing: for commands that read or
    /// upgrade a store (`export`, `backup`, `migrate`), where a mistyped path must fail rather than leave an
    /// empty store behind. A SQLite file must exist and hold openframe's schema; a sled directory must hold
    /// an openframe sled store; a PostgreSQL database must exist (the server refuses a connection to one
    /// that does not). `memory://` and `sqlite::memory:` live only inside one process, so there is never an
    /// existing one to open: they are refused. Each refusal is an [`openframe_core::Error::Invalid`]
    /// (field `store`).
    pub async fn open_existing(&self) -> openframe_core::Result<Arc<dyn Repository>> {
        match self {
            #[cfg(feature = "sqlite")]
            StoreUrl::Sqlite(path) => {
                let path = path.clone();
                let repo = blocking(move || {
                    openframe_store_sqlite::SqliteRepository::open_existing(&path)
                })
                .await?;
                Ok(Arc::new(repo))
            }
            #[cfg(feature = "sled")]
            StoreUrl::Sled(path) => {
                let path = path.clone();
                let repo =
                    blocking(move || openframe_store_sled::SledRepository::open_existing(&path))
                        .await?;
                Ok(Arc::new(repo))
            }
            StoreUrl::Memory | StoreUrl::SqliteMemory => Err(openframe_core::Error::invalid(
                "store",
                format!("{self} lives only inside one process: there is no existing store to open"),
            )),
            other => other.open().await,
        }
    }
}

#[cfg(any(feature = "sqlite", feature = "sled"))]
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> openframe_core::Result<T> + Send + 'static,
) -> openframe_core::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(openframe_core::Error::internal)?
}

/// The URL with any password replaced by `***`, for messages: the userinfo's
/// (`postgres://user:***@host/db`) and a `password` query parameter's (`?password=***`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The userinfo ends at the last '@': an unescaped '/', '?' or '@' in a password must not end it early.
    // An '@' further on (in a query) only makes more of the URL hidden, never less.
    let host_start = rest.rfind('@').map_or(0, |at| at + 1);
    let tail_start = rest[host_start..]
        .find(['/', '?'])
        .map_or(rest.len(), |i| host_start + i);
    let (authority, tail) = rest.split_at(tail_start);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            StoreUrl::SqliteMemory => f.write_str("sqlite::memory:"),
            StoreUrl::Postgres(url) => f.write_str(&redact(url)),
            StoreUrl::Sled(p) => write!(f, "sled://{}", p.display()),
            StoreUrl::Memory => f.write_str("memory://"),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(
            StoreUrl::parse_any("sqlite::memory:").unwrap(),
            StoreUrl::SqliteMemory
        );
        assert_eq!(
            StoreUrl::parse_any("sled://data/of").unwrap(),
            StoreUrl::Sled("data/of".into())
        );
        assert_eq!(StoreUrl::parse_any("memory://").unwrap(), StoreUrl::Memory);
        assert!(matches!(
            StoreUrl::parse_any("postgresql://u@h/db").unwrap(),
            StoreUrl::Postgres(_)
        ));
        assert!(StoreUrl::parse_any("sqlite://").is_err());
        assert!(StoreUrl::parse_any("openframe.db").is_err());
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://of:secret@db:5432/x"),
            "postgres://of:***@db:5432/x"
        );
        assert_eq!(redact("postgres://of@db/x"), "postgres://of@db/x");
        assert_eq!(
            redact("postgres://of@db/x?sslmode=require&password=secret"),
            "postgres://of@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            redact("postgres://of:se/cr?et@db/x?PASSWORD=s2"),
            "postgres://of:***@db/x?PASSWORD=***"
        );
        assert_eq!(redact("sqlite:///var/lib/of.db"), "sqlite:///var/lib/of.db");
        let err = StoreUrl::parse_any("mysql://root:hunter2@h/db").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            StoreUrl::Postgres("postgres://a:b@h/d".into()).to_string(),
            "postgres://a:***@h/d"
        );
    }
}

#[cfg(test)]
mod feature_tests {
    use super::*;

    #[test]
    fn a_store_not_compiled_in_is_refused_by_name() {
        for (url, feature) in [
            ("sqlite://x.db", "sqlite"),
            ("sled://x", "sled"),
            ("postgres://u:secret@h/d", "postgres"),
        ] {
            let parsed = StoreUrl::parse(url);
            if StoreUrl::parse_any(url).unwrap().is_compiled_in() {
                assert!(parsed.is_ok(), "{url}");
            } else {
                let err = parsed.unwrap_err();
                assert!(err.contains(&format!("`{feature}` feature")), "{err}");
                assert!(!err.contains("secret"), "{err}");
            }
        }
        assert_eq!(StoreUrl::parse("memory://").unwrap(), StoreUrl::Memory);
    }
}
