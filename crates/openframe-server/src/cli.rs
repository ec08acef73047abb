//! The `openframe` command line (CONTRACT §8). Every failure ends as one line on standard error and a
//! non-zero exit; nothing here panics on bad input or a bad environment.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use openframe_core::user::{
    BOOTSTRAP_ROLES, FULL_NAME_RULE, is_full_name, new_provider_application, validate_role,
    validate_user_name,
};
use openframe_core::{DateTime, Repository, SysId};

use crate::config_file::ConfigFile;
use crate::listener::ServeLimits;
use crate::logging::LogFormat;
use crate::portability;
use crate::prometheus::Metrics;
use crate::server;
use crate::settings::{self, GivenServe, ServeSettings, Sources};
use openframe_stores::{DEFAULT_STORE, StoreUrl};

/// openframe: the voice-interaction API server.
#[derive(Debug, Parser)]
#[command(name = "openframe", version, about)]
pub struct Cli {
    /// A TOML file of serve settings (listen, store, log_format, metrics_listen); a flag or environment
    /// variable overrides it. `--store` of every subcommand defaults to its `store`.
    #[arg(long, global = true, env = "OPENFRAME_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format on standard error [default: human].
    #[arg(long, global = true, env = "OPENFRAME_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A parsed command line with what it needs from elsewhere: where each value came from, and the
/// configuration file it names (read and checked).
#[derive(Debug)]
pub struct Invocation {
    /// The command line.
    pub cli: Cli,
    /// Which values came from flags and which from the environment.
    pub sources: Sources,
    /// The configuration file (empty when none was named).
    pub file: ConfigFile,
}

impl Invocation {
    /// Parses the process's arguments (exiting with clap's message on a bad command line) and reads the
    /// configuration file.
    pub fn from_env() -> Result<Self, String> {
        Self::from_matches(&Cli::command().get_matches())
    }

    /// Builds the invocation from clap's matches and reads the configuration file.
    pub fn from_matches(matches: &ArgMatches) -> Result<Self, String> {
        let cli = Cli::from_arg_matches(matches).map_err(|e| e.to_string())?;
        let file = match &cli.config {
            Some(path) => ConfigFile::load(path)?,
            None => ConfigFile::default(),
        };
        Ok(Invocation {
            sources: Sources::of(matches),
            cli,
            file,
        })
    }

    /// The log format in force: flag, environment, file, default.
    pub fn log_format(&self) -> LogFormat {
        settings::pick(
            settings::LOG_FORMAT,
            self.cli.log_format,
            &self.sources,
            self.file.log_format,
            &self.file,
            LogFormat::default(),
        )
        .value
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the store first).
    Serve(ServeArgs),
    /// Check configuration.
    Config {
        /// What to check.
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage users.
    User {
        /// What to do with users.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage OAuth clients (the applications that may ask /oauth_token.do for tokens).
    #[command(name = "oauth-client")]
    OAuthClient {
        /// What to do with OAuth clients.
        #[command(subcommand)]
        command: OAuthClientCommand,
    },
    /// Manage provider applications (the inboundIds a request may name).
    Provider {
        /// What to do with provider applications.
        #[command(subcommand)]
        command: ProviderCommand,
    },
    /// Upgrade the schema of an existing store (`serve` and `import` create a missing one).
    Migrate {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Print the OpenAPI document that GET /api/openapi.json serves (docs/openapi.json is a copy).
    Openapi,
    /// Write everything the store holds (users and provider applications included) to standard output as
    /// versioned JSON Lines; progress on standard error.
    Export {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Read an `export` dump from standard input into the store (migrated first), sys_ids and numbers
    /// preserved; progress on standard error.
    Import {
        #[command(flatten)]
        store: StoreArg,
    },
    /// Copy a SQLite store to a new file DEST, consistently, while a server may be writing to it.
    Backup {
        #[command(flatten)]
        store: StoreArg,
        /// The new file; an existing one is never overwritten.
        dest: PathBuf,
    },
}

/// The settings of `serve` that flags give; each falls back to the environment, then the config file, then
/// its default.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "OPENFRAME_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve /metrics on this address instead of on the API's listener.
    #[arg(long, env = "OPENFRAME_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve the API over TLS (HTTP/1.1 and HTTP/2) with this certificate chain, in PEM; with --tls-key.
    /// Both files are read again on SIGHUP.
    #[arg(long, env = "OPENFRAME_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, in PEM.
    #[arg(long, env = "OPENFRAME_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub limits: ServeLimits,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the config file (with the flags and environment) and print the settings `serve` would use,
    /// passwords hidden.
    Check(ServeArgs),
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. The password comes from OPENFRAME_PASSWORD, or one line of standard input with
    /// --password-stdin.
    Add {
        /// The user name.
        name: String,
        /// The user's full name (`sys_user.name`: what references to the user show as their display value).
        #[arg(long = "name", value_name = "FULL NAME", default_value = "")]
        full_name: String,
        /// A role to grant (repeatable): sn_openframe_api_user, sn_openframe_user or admin grant the API.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Read the password from one line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Give a user a new password (from OPENFRAME_PASSWORD, or standard input with --password-stdin). The
    /// user's OAuth tokens stop being accepted.
    Password {
        /// The user name.
        name: String,
        /// Read the password from one line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArg,
    },
    /// Remove a user. Its OAuth tokens stop being accepted; records keep the user's sys_id.
    Remove {
        /// The user name.
        name: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `oauth-client` subcommands.
#[derive(Debug, Subcommand)]
pub enum OAuthClientCommand {
    /// Register an OAuth client (for the password and refresh-token grants at /oauth_token.do) and print
    /// its client_id and client_secret on standard output, once: only a hash of the secret is stored.
    Add {
        /// Its display name.
        #[arg(long)]
        name: String,
        /// Seconds an access token lives [default: 1800].
        #[arg(long, value_name = "SECONDS")]
        access_token_lifespan: Option<u32>,
        /// Seconds a refresh token lives [default: 8640000, 100 days].
        #[arg(long, value_name = "SECONDS")]
        refresh_token_lifespan: Option<u32>,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// `provider` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Register a provider application.
    Add {
        /// Its inbound id, what `interaction.inboundId` names.
        #[arg(long)]
        inbound_id: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        store: StoreArg,
    },
}

/// The `--store` option every subcommand takes.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// Store URL: sqlite://PATH, sqlite::memory:, postgres://…, sled://PATH or memory://
    /// [default: the config file's `store`, else sqlite://openframe.db].
    #[arg(long = "store", env = "OPENFRAME_STORE")]
    pub url: Option<String>,
}

impl StoreArg {
    /// The store this option names, else the one `file` names, else [`DEFAULT_STORE`], parsed.
    pub fn resolve(&self, file: &ConfigFile) -> Result<StoreUrl, String> {
        StoreUrl::parse(
            self.url
                .as_deref()
                .or(file.store.as_deref())
                .unwrap_or(DEFAULT_STORE),
        )
    }

    /// Opens (and migrates) the store [`StoreArg::resolve`] names.
    async fn open(&self, file: &ConfigFile) -> Result<Arc<dyn Repository>, String> {
        let url = self.resolve(file)?;
        url.open().await.map_err(|e| store_error(&url, &e))
    }

    /// Opens (and migrates) the store [`StoreArg::resolve`] names if it exists; never creates one.
    async fn open_existing(&self, file: &ConfigFile) -> Result<Arc<dyn Repository>, String> {
        let url = self.resolve(file)?;
        url.open_existing().await.map_err(|e| store_error(&url, &e))
    }
}

/// A store error about the user `name` in one line: "no user NAME" for a name no user has.
fn user_error(name: &str, e: &openframe_core::Error) -> String {
    match e {
        openframe_core::Error::NotFound { .. } => format!("no user {name}"),
        other => other.to_string(),
    }
}

async fn open_store(url: &str) -> Result<Arc<dyn Repository>, String> {
    let url = StoreUrl::parse(url)?;
    url.open().await.map_err(|e| store_error(&url, &e))
}

fn store_error(url: &StoreUrl, e: &openframe_core::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(source) => format!("cannot open store {url}: {e}: {source}"),
        None => format!("cannot open store {url}: {e}"),
    }
}

/// Runs a parsed command line.
pub async fn run(invocation: Invocation) -> Result<(), String> {
    let Invocation { cli, sources, file } = invocation;
    let Cli {
        command,
        log_format,
        ..
    } = cli;
    match command {
        Command::Serve(args) => {
            let settings = serve_settings(&args, log_format, &sources, &file)?;
            // Before the store opens, so that its own metrics (group commits) are recorded from the start.
            let metrics = Metrics::install()?;
            let repo = open_store(&settings.store.value).await?;
            server::serve(&settings, repo, metrics).await
        }
        Command::Config {
            command: ConfigCommand::Check(args),
        } => {
            let settings = serve_settings(&args, log_format, &sources, &file)?;
            let admin_password_set =
                std::env::var_os("OPENFRAME_ADMIN_PASSWORD").is_some_and(|p| !p.is_empty());
            print!("{}", settings.describe(admin_password_set));
            Ok(())
        }
        Command::Openapi => {
            print!("{}", openframe_http::openapi::document_text());
            Ok(())
        }
        Command::Migrate { store } => {
            let url = store.resolve(&file)?;
            url.open_existing()
                .await
                .map_err(|e| store_error(&url, &e))?;
            eprintln!("openframe: store is migrated");
            Ok(())
        }
        Command::Export { store } => portability::export(&store.resolve(&file)?).await,
        Command::Import { store } => portability::import(&store.resolve(&file)?).await,
        Command::Backup { store, dest } => portability::backup(&store.resolve(&file)?, &dest).await,
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    full_name,
                    roles,
                    password_stdin,
                    store,
                },
        } => {
            validate_user_name(&name).map_err(|e| e.to_string())?;
            if !is_full_name(&full_name) {
                return Err(format!("--name {FULL_NAME_RULE}"));
            }
            for role in &roles {
                validate_role(role).map_err(|e| format!("{e} (got {role:?})"))?;
            }
            let password = read_password(password_stdin)?;
            let repo = store.open(&file).await?;
            add_named_user(repo.as_ref(), &name, &full_name, &password, roles)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("openframe: added user {name}");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Password {
                    name,
                    password_stdin,
                    store,
                },
        } => {
            let password = read_password(password_stdin)?;
            let repo = store.open_existing(&file).await?;
            openframe_http::set_password(repo.as_ref(), &name, &password)
                .await
                .map_err(|e| user_error(&name, &e))?;
            eprintln!("openframe: changed the password of {name}");
            Ok(())
        }
        Command::User {
            command: UserCommand::Remove { name, store },
        } => {
            let repo = store.open_existing(&file).await?;
            repo.remove_user(&name)
                .await
                .map_err(|e| user_error(&name, &e))?;
            eprintln!("openframe: removed user {name}");
            Ok(())
        }
        Command::OAuthClient {
            command:
                OAuthClientCommand::Add {
                    name,
                    access_token_lifespan,
                    refresh_token_lifespan,
                    store,
                },
        } => {
            let repo = store.open(&file).await?;
            let client = openframe_http::register_oauth_client(
                repo.as_ref(),
                &name,
                access_token_lifespan,
                refresh_token_lifespan,
            )
            .await
            .map_err(|e| e.to_string())?;
            println!("client_id: {}", client.client_id);
            println!("client_secret: {}", client.client_secret);
            eprintln!("openframe: added OAuth client {name} (the secret is shown once)");
            Ok(())
        }
        Command::Provider {
            command:
                ProviderCommand::Add {
                    inbound_id,
                    name,
                    store,
                },
        } => {
            let app = new_provider_application(
                SysId::random(),
                &inbound_id,
                &name,
                "system",
                DateTime::now(),
            )
            .map_err(|e| e.to_string())?;
            let repo = store.open(&file).await?;
            repo.add_provider_application(&app)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!(
                "openframe: added provider application {inbound_id} ({})",
                app.sys_id()
            );
            Ok(())
        }
    }
}

/// What `serve` (or `config check`) runs with: `args` and the global `--log-format` over the file.
fn serve_settings(
    args: &ServeArgs,
    log_format: Option<LogFormat>,
    sources: &Sources,
    file: &ConfigFile,
) -> Result<ServeSettings, String> {
    ServeSettings::resolve(
        GivenServe {
            listen: args.listen,
            store: args.store.url.clone(),
            log_format,
            metrics_listen: args.metrics_listen,
            tls_cert: args.tls_cert.clone(),
            tls_key: args.tls_key.clone(),
            limits: args.limits,
        },
        sources,
        file,
    )
}

pub use openframe_http::{add_named_user, add_user};

/// Creates `admin` when the store has no user at all, with OPENFRAME_ADMIN_PASSWORD or a random password that
/// is printed once on standard error.
pub async fn bootstrap_admin(repo: &dyn Repository) -> Result<(), String> {
    if repo
        .has_users()
        .await
        .map_err(|e| format!("cannot read users: {e}"))?
    {
        return Ok(());
    }
    let (password, generated) = match std::env::var("OPENFRAME_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (SysId::random().into_string(), true),
    };
    let roles = BOOTSTRAP_ROLES.iter().map(|r| r.to_string()).collect();
    match add_user(repo, "admin", &password, roles).await {
        Ok(()) => {}
        // Another server sharing the store bootstrapped it first: that admin stands.
        Err(openframe_core::Error::Conflict(openframe_core::Conflict::UserName { .. })) => {
            return Ok(());
        }
        Err(e) => return Err(format!("cannot create the admin user: {e}")),
    }
    if generated {
        eprintln!(
            "openframe: created user admin with password {password} (shown once; set OPENFRAME_ADMIN_PASSWORD to choose it)"
        );
    } else {
        eprintln!("openframe: created user admin with the password in OPENFRAME_ADMIN_PASSWORD");
    }
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        std::env::var("OPENFRAME_PASSWORD").map_err(|_| {
            "no password: set OPENFRAME_PASSWORD or pass --password-stdin".to_owned()
        })?
    };
    if password.is_empty() {
        return Err("the password must not be empty".to_owned());
    }
    Ok(password)
}
