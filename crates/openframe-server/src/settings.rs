//! The effective settings of `serve`, each from the first place that gives it: a flag, then the environment,
//! then the configuration file, then the default. clap reads the flag and the environment (and says which
//! through [`Sources`]); the file is [`ConfigFile`].

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::config_file::ConfigFile;
use crate::listener::ServeLimits;
use crate::logging::LogFormat;
use openframe_stores::{DEFAULT_STORE, StoreUrl};

/// The API's address when nothing names one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// One setting: its names in each place, so that every place is looked up alike and messages name them.
#[derive(Clone, Copy, Debug)]
pub struct Knob {
    /// clap's id of the argument (the field's name).
    pub id: &'static str,
    /// The flag.
    pub flag: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// The config file's key.
    pub key: &'static str,
}

/// `--listen`.
pub const LISTEN: Knob = Knob {
    id: "listen",
    flag: "--listen",
    env: "OPENFRAME_LISTEN",
    key: "listen",
};
/// `--store`.
pub const STORE: Knob = Knob {
    id: "url",
    flag: "--store",
    env: "OPENFRAME_STORE",
    key: "store",
};
/// `--log-format`.
pub const LOG_FORMAT: Knob = Knob {
    id: "log_format",
    flag: "--log-format",
    env: "OPENFRAME_LOG_FORMAT",
    key: "log_format",
};
/// `--metrics-listen`.
pub const METRICS_LISTEN: Knob = Knob {
    id: "metrics_listen",
    flag: "--metrics-listen",
    env: "OPENFRAME_METRICS_LISTEN",
    key: "metrics_listen",
};

/// `--tls-cert`.
pub const TLS_CERT: Knob = Knob {
    id: "tls_cert",
    flag: "--tls-cert",
    env: "OPENFRAME_TLS_CERT",
    key: "tls_cert",
};
/// `--tls-key`.
pub const TLS_KEY: Knob = Knob {
    id: "tls_key",
    flag: "--tls-key",
    env: "OPENFRAME_TLS_KEY",
    key: "tls_key",
};
/// `--max-connections`.
pub const MAX_CONNECTIONS: Knob = Knob {
    id: "max_connections",
    flag: "--max-connections",
    env: "OPENFRAME_MAX_CONNECTIONS",
    key: "max_connections",
};
/// `--header-read-timeout`.
pub const HEADER_READ_TIMEOUT: Knob = Knob {
    id: "header_read_timeout",
    flag: "--header-read-timeout",
    env: "OPENFRAME_HEADER_READ_TIMEOUT",
    key: "header_read_timeout",
};
/// `--body-read-timeout`.
pub const BODY_READ_TIMEOUT: Knob = Knob {
    id: "body_read_timeout",
    flag: "--body-read-timeout",
    env: "OPENFRAME_BODY_READ_TIMEOUT",
    key: "body_read_timeout",
};
/// `--response-write-timeout`.
pub const RESPONSE_WRITE_TIMEOUT: Knob = Knob {
    id: "response_write_timeout",
    flag: "--response-write-timeout",
    env: "OPENFRAME_RESPONSE_WRITE_TIMEOUT",
    key: "response_write_timeout",
};
/// `--shutdown-grace`.
pub const SHUTDOWN_GRACE: Knob = Knob {
    id: "shutdown_grace",
    flag: "--shutdown-grace",
    env: "OPENFRAME_SHUTDOWN_GRACE",
    key: "shutdown_grace",
};

/// Where clap found each argument it was given: on the command line or in the environment.
#[derive(Clone, Debug, Default)]
pub struct Sources(HashMap<String, ValueSource>);

impl Sources {
    /// The sources of every argument in `matches` and its subcommands' matches.
    pub fn of(matches: &ArgMatches) -> Self {
        let mut sources = HashMap::new();
        let mut level = Some(matches);
        while let Some(m) = level {
            for id in m.ids() {
                if let Some(source) = m.value_source(id.as_str()) {
                    sources.insert(id.as_str().to_owned(), source);
                }
            }
            level = m.subcommand().map(|(_, sub)| sub);
        }
        Sources(sources)
    }

    fn of_knob(&self, knob: Knob) -> Source {
        match self.0.get(knob.id) {
            Some(ValueSource::EnvVariable) => Source::Environment(knob.env),
            _ => Source::Flag(knob.flag),
        }
    }

    /// Whether clap filled `knob` with its own default (neither a flag nor the environment gave it).
    fn defaulted(&self, knob: Knob) -> bool {
        matches!(self.0.get(knob.id), None | Some(ValueSource::DefaultValue))
    }
}

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A flag on the command line.
    Flag(&'static str),
    /// An environment variable.
    Environment(&'static str),
    /// The configuration file at this path.
    File(PathBuf),
    /// Nothing gave it.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "from {flag}"),
            Source::Environment(var) => write!(f, "from {var}"),
            Source::File(path) => write!(f, "from {}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// A setting's value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value in force.
    pub value: T,
    /// Where it came from.
    pub source: Source,
}

/// `given` (from a flag or the environment, as `sources` says) if there, else the file's value, else
/// `default`.
pub fn pick<T>(
    knob: Knob,
    given: Option<T>,
    sources: &Sources,
    from_file: Option<T>,
    file: &ConfigFile,
    default: T,
) -> Setting<T> {
    match (given, from_file, &file.path) {
        (Some(value), _, _) => Setting {
            value,
            source: sources.of_knob(knob),
        },
        (None, Some(value), Some(path)) => Setting {
            value,
            source: Source::File(path.clone()),
        },
        _ => Setting {
            value: default,
            source: Source::Default,
        },
    }
}

/// Like [`pick`] for an argument clap always fills (it has a default of its own): `given` counts only if a
/// flag or the environment gave it.
pub fn pick_defaulted<T>(
    knob: Knob,
    given: T,
    sources: &Sources,
    from_file: Option<T>,
    file: &ConfigFile,
) -> Setting<T> {
    if !sources.defaulted(knob) {
        return Setting {
            value: given,
            source: sources.of_knob(knob),
        };
    }
    match (from_file, &file.path) {
        (Some(value), Some(path)) => Setting {
            value,
            source: Source::File(path.clone()),
        },
        _ => Setting {
            value: given,
            source: Source::Default,
        },
    }
}

/// What `serve` runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeSettings {
    /// The API's address.
    pub listen: Setting<SocketAddr>,
    /// The store URL (password included: print it only through [`StoreUrl`]'s `Display`).
    pub store: Setting<String>,
    /// The log format.
    pub log_format: Setting<LogFormat>,
    /// Where `/metrics` is served: `None` on the API's own listener.
    pub metrics_listen: Setting<Option<SocketAddr>>,
    /// The certificate chain (PEM) when the API is served over TLS.
    pub tls_cert: Setting<Option<PathBuf>>,
    /// Its private key (PEM).
    pub tls_key: Setting<Option<PathBuf>>,
    /// Most connections open at once.
    pub max_connections: Setting<u32>,
    /// Time to send a request's headers.
    pub header_read_timeout: Setting<Duration>,
    /// Time to send a request's body.
    pub body_read_timeout: Setting<Duration>,
    /// Time a client has to take each part of a response.
    pub response_write_timeout: Setting<Duration>,
    /// Time in-flight requests get after a shutdown signal.
    pub shutdown_grace: Setting<Duration>,
}

/// What the command line (flags and environment) gave for `serve`.
#[derive(Clone, Debug)]
pub struct GivenServe {
    /// `--listen` / `OPENFRAME_LISTEN`.
    pub listen: Option<SocketAddr>,
    /// `--store` / `OPENFRAME_STORE`.
    pub store: Option<String>,
    /// `--log-format` / `OPENFRAME_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// `--metrics-listen` / `OPENFRAME_METRICS_LISTEN`.
    pub metrics_listen: Option<SocketAddr>,
    /// `--tls-cert` / `OPENFRAME_TLS_CERT`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key` / `OPENFRAME_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
    /// The limits' flags (each with its default when not given).
    pub limits: ServeLimits,
}

impl ServeSettings {
    /// Resolves every setting; the store URL is checked (not opened).
    pub fn resolve(
        given: GivenServe,
        sources: &Sources,
        file: &ConfigFile,
    ) -> Result<Self, String> {
        let default_listen = DEFAULT_LISTEN
            .parse()
            .map_err(|e| format!("the default listen address: {e}"))?;
        let settings = ServeSettings {
            listen: pick(
                LISTEN,
                given.listen,
                sources,
                file.listen,
                file,
                default_listen,
            ),
            store: pick(
                STORE,
                given.store,
                sources,
                file.store.clone(),
                file,
                DEFAULT_STORE.to_owned(),
            ),
            log_format: pick(
                LOG_FORMAT,
                given.log_format,
                sources,
                file.log_format,
                file,
                LogFormat::default(),
            ),
            metrics_listen: pick(
                METRICS_LISTEN,
                given.metrics_listen.map(Some),
                sources,
                file.metrics_listen.map(Some),
                file,
                None,
            ),
            tls_cert: pick(
                TLS_CERT,
                given.tls_cert.map(Some),
                sources,
                file.tls_cert.clone().map(Some),
                file,
                None,
            ),
            tls_key: pick(
                TLS_KEY,
                given.tls_key.map(Some),
                sources,
                file.tls_key.clone().map(Some),
                file,
                None,
            ),
            max_connections: pick_defaulted(
                MAX_CONNECTIONS,
                given.limits.max_connections,
                sources,
                file.max_connections,
                file,
            ),
            header_read_timeout: pick_defaulted(
                HEADER_READ_TIMEOUT,
                given.limits.header_read_timeout,
                sources,
                file.header_read_timeout,
                file,
            ),
            body_read_timeout: pick_defaulted(
                BODY_READ_TIMEOUT,
                given.limits.body_read_timeout,
                sources,
                file.body_read_timeout,
                file,
            ),
            response_write_timeout: pick_defaulted(
                RESPONSE_WRITE_TIMEOUT,
                given.limits.response_write_timeout,
                sources,
                file.response_write_timeout,
                file,
            ),
            shutdown_grace: pick_defaulted(
                SHUTDOWN_GRACE,
                given.limits.shutdown_grace,
                sources,
                file.shutdown_grace,
                file,
            ),
        };
        StoreUrl::parse(&settings.store.value)
            .map_err(|e| format!("{} ({}): {e}", STORE.key, settings.store.source))?;
        if settings.tls_cert.value.is_some() != settings.tls_key.value.is_some() {
            return Err(format!(
                "{} and {} go together: give both to serve over TLS, or neither",
                TLS_CERT.flag, TLS_KEY.flag
            ));
        }
        Ok(settings)
    }

    /// The connection limits and deadlines in force.
    pub fn limits(&self) -> ServeLimits {
        ServeLimits {
            max_connections: self.max_connections.value,
            header_read_timeout: self.header_read_timeout.value,
            body_read_timeout: self.body_read_timeout.value,
            response_write_timeout: self.response_write_timeout.value,
            shutdown_grace: self.shutdown_grace.value,
        }
    }

    /// The settings as `config check` prints them: TOML a config file could hold (a store password shown as
    /// `***`), each line with where its value came from. Never shows `OPENFRAME_ADMIN_PASSWORD`, only
    /// whether it is set.
    pub fn describe(&self, admin_password_set: bool) -> String {
        let store = StoreUrl::parse(&self.store.value)
            .map(|url| url.to_string())
            .unwrap_or_else(|_| openframe_stores::redact(&self.store.value));
        let mut out = String::from(
            "# openframe serve settings (a flag beats the environment, which beats the config file)\n",
        );
        fn line(out: &mut String, key: &str, value: String, source: &Source) {
            let setting = format!("{key} = {value}");
            let _ = writeln!(out, "{setting:<40} # {source}");
        }
        line(
            &mut out,
            LISTEN.key,
            quoted(&self.listen.value.to_string()),
            &self.listen.source,
        );
        line(&mut out, STORE.key, quoted(&store), &self.store.source);
        line(
            &mut out,
            LOG_FORMAT.key,
            quoted(self.log_format.value.as_str()),
            &self.log_format.source,
        );
        match self.metrics_listen.value {
            Some(addr) => line(
                &mut out,
                METRICS_LISTEN.key,
                quoted(&addr.to_string()),
                &self.metrics_listen.source,
            ),
            None => {
                out.push_str("# metrics_listen unset: /metrics is served on the API's listener\n")
            }
        }
        for (knob, setting) in [(TLS_CERT, &self.tls_cert), (TLS_KEY, &self.tls_key)] {
            if let Some(path) = &setting.value {
                line(
                    &mut out,
                    knob.key,
                    quoted(&path.display().to_string()),
                    &setting.source,
                );
            }
        }
        line(
            &mut out,
            MAX_CONNECTIONS.key,
            self.max_connections.value.to_string(),
            &self.max_connections.source,
        );
        for (knob, setting) in [
            (HEADER_READ_TIMEOUT, &self.header_read_timeout),
            (BODY_READ_TIMEOUT, &self.body_read_timeout),
            (RESPONSE_WRITE_TIMEOUT, &self.response_write_timeout),
            (SHUTDOWN_GRACE, &self.shutdown_grace),
        ] {
            line(
                &mut out,
                knob.key,
                setting.value.as_secs().to_string(),
                &setting.source,
            );
        }
        out.push_str(if admin_password_set {
            "# admin password: from OPENFRAME_ADMIN_PASSWORD (not shown)\n"
        } else {
            "# admin password: OPENFRAME_ADMIN_PASSWORD unset; a store with no user gets a random one, printed once\n"
        });
        out
    }
}

/// `text` as a TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
