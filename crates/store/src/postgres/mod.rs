//! The PostgreSQL backend (feature `postgres`): one schema per region and
//! one for the tokens, in a database that several collectors (or
//! aggregation workers) share.
//!
//! Reach it through [`crate::StoreConfig::Postgres`]: a URL and a
//! *namespace* (default `candor`) that keeps deployments, and tests, apart
//! in one database:
//!
//! ```text
//! <namespace>_region_<region>   a region's store ('-' in the region id becomes '_')
//! <namespace>_tokens            the token store
//! ```
//!
//! A namespace is 1–32 characters of `a-z` and `0-9`, starting with a
//! letter; it has no `_`, so no schema name can be read two ways (namespace
//! `a` with region `region-x`, or namespace `a_region` with region `x`).
//! Nothing crosses regions: each handle's `search_path` is its own schema.
//!
//! What makes it safe for several processes on one region:
//!
//! - **Migrations** (`migrations.rs`) are numbered per schema, recorded in
//!   its `candor_meta` table, and applied under a transaction-scoped
//!   advisory lock; a newer schema is refused ([`StoreError::TooNew`]).
//! - **A batch** is one transaction: the report ids are inserted as one
//!   array (`INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING
//!   RETURNING`), sorted, then the merged rows and counts are upserted as
//!   arrays sorted by key. Every writer takes its row locks in the same
//!   order, so concurrent batches wait for each other but never deadlock.
//!   An overflowing sum (SQLSTATE 22003) rolls the batch back and is
//!   [`StoreError::Overflow`].
//! - **Releases and audit appends** first take the region's ledger lock
//!   (a transaction-scoped advisory lock): the budget sums are then checked
//!   inside the transaction against everything committed, so two
//!   collectors can never overspend, and the audit chain stays linear.
//!   Releases are rare and each appends to the chain, so a finer lock
//!   would buy nothing.
//! - **A reader** runs with `default_transaction_read_only` and refuses
//!   writes before sending them.
//! - **A lost connection** (a restarted server) is re-established at the
//!   handle's next call; the call that met the loss fails with
//!   [`StoreError::Backend`] and changed nothing.
//!
//! The driver is the synchronous `postgres` crate, which runs its own
//! small runtime: a handle must not be *used* on a thread that runs async
//! tasks (the collector calls stores from its writer threads and
//! `spawn_blocking`); dropping one there is safe (it is closed on a
//! thread of its own). Connections are plain TCP (`NoTls`): run the
//! database on the same host or network as the collector, or behind a TLS
//! tunnel. Errors never carry bound values (no report id, no token hash)
//! nor the URL's password.
//!
//! Files: `mod.rs` (connections, names, the factory's side), `migrations.rs`,
//! `write.rs` (the batch), `rollup.rs` (roll-ups, built and read),
//! `store.rs` (the rest of [`Store`](crate::Store)), `tokens.rs`.

mod migrations;
mod rollup;
mod store;
mod tokens;
mod write;

pub use tokens::PgTokens;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use ::postgres::{Client, Config, NoTls, Statement};

use crate::StoreError;
use migrations::Kind;

/// The schema version of a region this build creates and reads.
pub const SCHEMA_VERSION: u32 = 2;

/// The namespace used when a configuration names none.
pub const DEFAULT_NAMESPACE: &str = "candor";

/// Longest namespace: with `_region_` and a 16-character region it stays
/// well inside PostgreSQL's 63-byte identifiers.
const MAX_NAMESPACE: usize = 32;

/// Connecting gives up after this long unless the URL says otherwise
/// (`connect_timeout`): a readiness probe must answer while the server is
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long checking a suspect connection may take before it counts as
/// dead.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `namespace` is a valid namespace (see the module docs).
#[must_use]
pub fn is_namespace(namespace: &str) -> bool {
    let mut chars = namespace.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && namespace.len() <= MAX_NAMESPACE
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Refuses an invalid namespace before it reaches SQL.
pub(crate) fn check_namespace(namespace: &str) -> Result<(), StoreError> {
    if is_namespace(namespace) {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "invalid PostgreSQL namespace {namespace:?}: 1-{MAX_NAMESPACE} characters of a-z \
             and 0-9, starting with a letter"
        )))
    }
}

/// A region's schema name (the region was checked by the factory).
pub(crate) fn region_schema(namespace: &str, region: &str) -> String {
    format!("{namespace}_region_{}", region.replace('-', "_"))
}

/// The token schema's name.
pub(crate) fn tokens_schema(namespace: &str) -> String {
    format!("{namespace}_tokens")
}

/// A quoted identifier. Names are built from checked namespaces and region
/// ids, so quoting is belt and braces.
pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The URL's connection settings, with our connect timeout unless it sets
/// one.
fn parse_url(url: &str) -> Result<Config, StoreError> {
    let mut config = Config::from_str(url)
        .map_err(|_| StoreError::Backend("the PostgreSQL URL is not valid".into()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("candor");
    }
    Ok(config)
}

/// Where a URL points, for messages: user, host, port and database, never
/// a password (rebuilt from the parsed settings, so nothing else of the
/// URL is echoed).
#[must_use]
pub fn describe_url(url: &str) -> String {
    let Ok(config) = Config::from_str(url) else {
        return "an invalid PostgreSQL URL".into();
    };
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            ::postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            ::postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}:{port}/{db}")
}

/// What a driver error says, without bound values: for a database error
/// its message and SQLSTATE only (its DETAIL may quote a key, such as a
/// report id or a token hash).
pub(crate) fn describe(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Wraps a driver error with what we were doing.
pub(crate) fn backend(context: &'static str) -> impl Fn(::postgres::Error) -> StoreError {
    move |e| StoreError::Backend(format!("{context}: {}", describe(&e)))
}

/// One connection and what belongs to it: the session's settings (to
/// restore them after a reconnect) and its prepared statements.
pub(crate) struct Conn {
    /// `None` only while being dropped.
    client: Option<Client>,
    config: Config,
    /// The schema the session works in, if any.
    schema: Option<String>,
    read_only: bool,
    /// Prepared statements by SQL text, valid for this connection only.
    statements: HashMap<String, Statement>,
    /// The last call failed: the connection may be dead although the
    /// driver has not noticed yet, so it is checked before the next one.
    suspect: bool,
}

impl Conn {
    /// Connects to `url`, working in `schema` (which may not exist yet).
    pub(crate) fn open(
        url: &str,
        schema: Option<&str>,
        read_only: bool,
    ) -> Result<Self, StoreError> {
        let config = parse_url(url)?;
        let client = connect(&config, schema, read_only)?;
        Ok(Self {
            client: Some(client),
            config,
            schema: schema.map(str::to_owned),
            read_only,
            statements: HashMap::new(),
            suspect: false,
        })
    }

    /// Runs `f` on the connection (see [`Conn::parts`]); if it fails, the
    /// connection is checked before the next call and replaced if dead, so
    /// a restarted server costs the one call that met it.
    pub(crate) fn run<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Client, &mut HashMap<String, Statement>) -> Result<T, E>,
    ) -> Result<T, E> {
        let (client, statements) = self.parts()?;
        let result = f(client, statements);
        self.suspect = result.is_err();
        result
    }

    /// The client, reconnecting first if the connection was lost (the
    /// server restarted): statements are prepared again. For the factory's
    /// one-off connections; a handle's calls go through [`Conn::run`].
    pub(crate) fn client(&mut self) -> Result<&mut Client, StoreError> {
        Ok(self.parts()?.0)
    }

    /// The client and the statement cache, borrowed apart so that a
    /// transaction of the one can fill the other.
    fn parts(&mut self) -> Result<(&mut Client, &mut HashMap<String, Statement>), StoreError> {
        if self.suspect {
            self.suspect = false;
            if let Some(client) = self.client.as_mut()
                && client.is_valid(CHECK_TIMEOUT).is_err()
                && let Some(dead) = self.client.take()
            {
                close(dead);
            }
        }
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            let fresh = connect(&self.config, self.schema.as_deref(), self.read_only)?;
            if let Some(old) = self.client.replace(fresh) {
                close(old);
            }
        }
        match self.client.as_mut() {
            Some(client) => Ok((client, &mut self.statements)),
            None => Err(StoreError::Backend("the connection is closed".into())),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            close(client);
        }
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("schema", &self.schema)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Connects and sets the session up.
fn connect(config: &Config, schema: Option<&str>, read_only: bool) -> Result<Client, StoreError> {
    let mut client = config
        .connect(NoTls)
        .map_err(backend("connect to PostgreSQL"))?;
    let mut setup = String::new();
    if let Some(schema) = schema {
        setup.push_str(&format!("SET search_path TO {};", quote(schema)));
    }
    if read_only {
        setup.push_str("SET default_transaction_read_only = on;");
    }
    if !setup.is_empty()
        && let Err(e) = client.batch_execute(&setup)
    {
        close(client);
        return Err(backend("set the session up")(e));
    }
    Ok(client)
}

/// Closes a client. The driver's `Drop` blocks on its own runtime, which
/// panics on a thread that runs async tasks (a collector dropping its last
/// reference there): there, it is closed on a thread of its own.
fn close(client: Client) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::Builder::new()
            .name("candor-pg-close".into())
            .spawn(move || drop(client));
    } else {
        drop(client);
    }
}

/// A prepared statement from the cache, preparing it on first use.
pub(crate) fn prepared(
    client: &mut impl ::postgres::GenericClient,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, ::postgres::Error> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = client.prepare(sql)?;
    cache.insert(sql.to_owned(), s.clone());
    Ok(s)
}

/// A region's aggregate store in one PostgreSQL schema.
///
/// Writers and readers are opened through [`crate::StoreConfig`]; any
/// number of each, in any number of processes, may work on one region
/// (see the module docs for what keeps them consistent). A handle is
/// `Send`, not `Sync`: give each thread its own.
pub struct PgStore {
    conn: RefCell<Conn>,
    schema: String,
    read_only: bool,
    /// Series key (see `merge::series_key`) → id, for series committed to
    /// this schema. Only committed ids enter it.
    series: HashMap<String, i64>,
    /// `before` of this handle's last complete [`crate::Store::roll_up`]:
    /// the same call again costs nothing (retention only removes spans
    /// that start before the first day left, which are never rebuilt).
    rolled: Option<crate::DayNumber>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Opens the writer of `region`'s store in `namespace`, creating and
    /// migrating its schema on first use.
    ///
    /// # Errors
    /// [`StoreError::TooNew`]; [`StoreError::Backend`] if the server cannot
    /// be reached, the schema is not a Candor region, or migrating fails.
    pub(crate) fn open(url: &str, namespace: &str, region: &str) -> Result<Self, StoreError> {
        check_namespace(namespace)?;
        let schema = region_schema(namespace, region);
        let mut conn = Conn::open(url, Some(&schema), false)?;
        migrations::migrate(conn.client()?, &schema, Kind::Region)?;
        Ok(Self::new(conn, schema, false))
    }

    /// Opens a reader of `region`'s store, which a writer created.
    ///
    /// # Errors
    /// [`StoreError::TooNew`]; [`StoreError::Backend`] if the region has no
    /// store or it is not yet migrated to this build's version.
    pub(crate) fn open_read_only(
        url: &str,
        namespace: &str,
        region: &str,
    ) -> Result<Self, StoreError> {
        check_namespace(namespace)?;
        let schema = region_schema(namespace, region);
        let mut conn = Conn::open(url, Some(&schema), true)?;
        match migrations::version(conn.client()?, &schema, Kind::Region)? {
            None => {
                return Err(StoreError::Backend(format!(
                    "region {region} has no store (schema {schema}): open its writer first"
                )));
            }
            Some(v) => {
                migrations::check_not_newer(v, Kind::Region)?;
                if v < SCHEMA_VERSION {
                    return Err(StoreError::Backend(format!(
                        "schema {schema} is at version {v}, this build reads {SCHEMA_VERSION}: \
                         open it for writing first (that migrates it)"
                    )));
                }
            }
        }
        Ok(Self::new(conn, schema, true))
    }

    fn new(conn: Conn, schema: String, read_only: bool) -> Self {
        Self {
            conn: RefCell::new(conn),
            schema,
            read_only,
            series: HashMap::new(),
            rolled: None,
        }
    }

    /// Whether this is a reading handle.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Refuses writes through a reading handle with a clear message.
    fn writable(&self) -> Result<(), StoreError> {
        crate::refuse_if_read_only(self.read_only)
    }

    /// The connection, for a read (`&self` methods of the trait).
    fn conn(&self) -> Result<std::cell::RefMut<'_, Conn>, StoreError> {
        self.conn
            .try_borrow_mut()
            .map_err(|_| StoreError::Backend("the store was called from inside a visit".into()))
    }
}

/// The factory's side for one URL and namespace (see
/// [`crate::StoreConfig::Postgres`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout<'a> {
    url: &'a str,
    namespace: &'a str,
}

impl<'a> Layout<'a> {
    pub(crate) fn new(url: &'a str, namespace: &'a str) -> Self {
        Self { url, namespace }
    }

    pub(crate) fn open_region(self, region: &str) -> Result<PgStore, StoreError> {
        PgStore::open(self.url, self.namespace, region)
    }

    pub(crate) fn open_region_read_only(self, region: &str) -> Result<PgStore, StoreError> {
        PgStore::open_read_only(self.url, self.namespace, region)
    }

    /// A connection outside any schema, for the catalog.
    fn catalog(self) -> Result<Conn, StoreError> {
        check_namespace(self.namespace)?;
        Conn::open(self.url, None, false)
    }

    pub(crate) fn has_region(self, region: &str) -> Result<bool, StoreError> {
        let mut conn = self.catalog()?;
        let schema = region_schema(self.namespace, region);
        Ok(migrations::version(conn.client()?, &schema, Kind::Region)?.is_some())
    }

    /// The regions whose schema holds a Candor store, sorted.
    pub(crate) fn regions(self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.catalog()?;
        let prefix = format!("{}_region_", self.namespace);
        let rows = conn
            .client()?
            .query(
                "SELECT n.nspname::text FROM pg_namespace n \
                 JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'candor_meta' \
                 WHERE starts_with(n.nspname::text, $1)",
                &[&prefix],
            )
            .map_err(backend("list the regions"))?;
        let mut regions: Vec<String> = rows
            .iter()
            .filter_map(|r| {
                let schema: &str = r.get(0);
                schema.strip_prefix(&prefix).map(|s| s.replace('_', "-"))
            })
            .filter(|region| candor_schema::is_region_id(region))
            .collect();
        regions.sort();
        Ok(regions)
    }

    pub(crate) fn describe_region(self, region: &str) -> String {
        format!(
            "{} schema {}",
            describe_url(self.url),
            region_schema(self.namespace, region)
        )
    }

    pub(crate) fn describe_tokens(self) -> String {
        format!(
            "{} schema {}",
            describe_url(self.url),
            tokens_schema(self.namespace)
        )
    }

    pub(crate) fn open_tokens(self) -> Result<PgTokens, StoreError> {
        check_namespace(self.namespace)?;
        PgTokens::open(self.url, &tokens_schema(self.namespace))
    }

    pub(crate) fn has_tokens(self) -> Result<bool, StoreError> {
        let mut conn = self.catalog()?;
        let schema = tokens_schema(self.namespace);
        Ok(migrations::version(conn.client()?, &schema, Kind::Tokens)?.is_some())
    }

    /// Connects and runs a trivial query.
    pub(crate) fn ping(self) -> Result<(), StoreError> {
        self.catalog()?
            .client()?
            .batch_execute("SELECT 1")
            .map_err(backend("ping PostgreSQL"))
    }
}

/// Drops every schema of `namespace` (its regions' and its tokens'), with
/// everything in them; returns how many. For tests, and for removing a
/// deployment on purpose: there is no undo.
///
/// # Errors
/// [`StoreError::Backend`] for an invalid namespace or a failed statement.
pub fn drop_namespace(url: &str, namespace: &str) -> Result<usize, StoreError> {
    let mut conn = Layout::new(url, namespace).catalog()?;
    let client = conn.client()?;
    let rows = client
        .query(
            "SELECT nspname::text FROM pg_namespace \
             WHERE nspname::text = $1 OR starts_with(nspname::text, $2)",
            &[&tokens_schema(namespace), &format!("{namespace}_region_")],
        )
        .map_err(backend("list the namespace's schemas"))?;
    for row in &rows {
        let schema: &str = row.get(0);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", quote(schema)))
            .map_err(backend("drop a schema"))?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_checked() {
        for good in ["candor", "t1", "a", &"a".repeat(32)] {
            assert!(is_namespace(good), "{good:?}");
        }
        for bad in [
            "",
            "1a",
            "Candor",
            "a_b",
            "a-b",
            "a b",
            "a\"",
            &"a".repeat(33),
        ] {
            assert!(!is_namespace(bad), "{bad:?}");
        }
    }

    #[test]
    fn schema_names() {
        assert_eq!(region_schema("candor", "us-west"), "candor_region_us_west");
        assert_eq!(tokens_schema("candor"), "candor_tokens");
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn descriptions_never_show_a_password() {
        for url in [
            "postgres://ana:s3cret@db.example:6543/candor",
            "host=db.example port=6543 user=ana password=s3cret dbname=candor",
        ] {
            let d = describe_url(url);
            assert_eq!(d, "postgres://ana@db.example:6543/candor", "{url}");
            assert!(!d.contains("s3cret"));
        }
        assert_eq!(describe_url("postgres://h/db"), "postgres://h:5432/db");
        assert_eq!(describe_url("::nonsense::"), "an invalid PostgreSQL URL");
    }
}
