//! The effective settings of `serve`, each from the first place that gives it: a flag, then the environment,
//! then the configuration file, then the default. clap reads the flag and the environment (and says which
//! through [`Sources`]); the file is [`ConfigFile`].

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::config_file::ConfigFile;
use crate::listener::ServeLimits;
use crate::logging::LogFormat;
use crate::store_url::{DEFAULT_STORE, StoreUrl};

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
    /// Connection limits and deadlines.
    pub limits: ServeLimits,
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
            limits: given.limits,
        };
        StoreUrl::parse(&settings.store.value)
            .map_err(|e| format!("{} ({}): {e}", STORE.key, settings.store.source))?;
        Ok(settings)
    }

    /// The settings as `config check` prints them: TOML a config file could hold (a store password shown as
    /// `***`), each line with where its value came from. Never shows `OPENFRAME_ADMIN_PASSWORD`, only
    /// whether it is set.
    pub fn describe(&self, admin_password_set: bool) -> String {
        let store = StoreUrl::parse(&self.store.value)
            .map(|url| url.to_string())
            .unwrap_or_else(|_| crate::store_url::redact(&self.store.value));
        let mut out = String::from(
            "# openframe serve settings (a flag beats the environment, which beats the config file)\n",
        );
        let mut line = |key: &str, value: String, source: &Source| {
            let setting = format!("{key} = {value}");
            let _ = writeln!(out, "{setting:<40} # {source}");
        };
        line(
            LISTEN.key,
            quoted(&self.listen.value.to_string()),
            &self.listen.source,
        );
        line(STORE.key, quoted(&store), &self.store.source);
        line(
            LOG_FORMAT.key,
            quoted(self.log_format.value.as_str()),
            &self.log_format.source,
        );
        match self.metrics_listen.value {
            Some(addr) => line(
                METRICS_LISTEN.key,
                quoted(&addr.to_string()),
                &self.metrics_listen.source,
            ),
            None => {
                out.push_str("# metrics_listen unset: /metrics is served on the API's listener\n")
            }
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
