//! The process's log output: `tracing` events to standard error, as human-readable lines (the default) or one
//! JSON object per line (`--log-format json`), filtered by `RUST_LOG` (default `openframe=info,warn`).
//!
//! The few lines a supervisor or a script waits for (`openframe: listening on http://ADDR`, the one-line
//! errors) are written with `eprintln!` beside the log, whatever its format.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter when `RUST_LOG` is unset or unreadable: openframe's own events (every target starting with
/// `openframe`) from `info`, others' warnings.
pub const DEFAULT_FILTER: &str = "openframe=info,warn";

/// How log events are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event: time, level, target, message, then `key=value` fields.
    #[default]
    Human,
    /// One JSON object per event, its fields at the top level beside `timestamp`, `level`, `target` and
    /// `message`.
    Json,
}

impl LogFormat {
    /// The name the flag, the environment and the config file use.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("must be \"human\" or \"json\" (got {s:?})")),
        }
    }
}

/// A subscriber writing `format` to `writer`, filtered by `filter` (`RUST_LOG` syntax; [`DEFAULT_FILTER`]
/// when `None` or unreadable), human lines coloured if `colour`. The binary installs it globally over
/// standard error; tests give it a buffer.
pub fn subscriber<W>(
    format: LogFormat,
    filter: Option<&str>,
    colour: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = filter
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour && format == LogFormat::Human)
        .with_writer(writer);
    match format {
        LogFormat::Human => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                // `request_id` and the other fields sit at the top level, where log shippers look first.
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// Installs the process-wide subscriber: `format` on standard error, filtered by `RUST_LOG`, coloured only
/// on a terminal and without `NO_COLOR`.
pub fn init(format: LogFormat) {
    let filter = std::env::var("RUST_LOG").ok();
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // Fails only if a subscriber is already installed (an embedding program's): that one stands.
    let _ = tracing::subscriber::set_global_default(subscriber(
        format,
        filter.as_deref(),
        colour,
        std::io::stderr,
    ));
}
