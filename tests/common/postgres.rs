//! A fresh PostgreSQL database per test, on the server `.ci/run` (scripts/test) makes sure is
//! running: `TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) names a database to connect to for creating and
//! dropping the test's own database. A test that needs PostgreSQL fails, with this message,
//! when it cannot be reached.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::NoTls;

/// The admin URL (any existing database on the test server).
pub fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Whether the tests of this run use PostgreSQL for every in-process test server
/// (`TEST_BACKEND=postgres`, set by scripts/test for its second pass).
pub fn selected() -> bool {
    std::env::var("TEST_BACKEND").is_ok_and(|backend| backend == "postgres")
}

/// A database created for one test and dropped (with its connections) when this is dropped.
pub struct FreshDatabase {
    name: String,
    url: String,
}

impl FreshDatabase {
    /// Creates an empty database with a unique name.
    pub async fn create() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "servscore_t_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            fastrand::u32(..)
        );
        let admin = admin_url();
        let (client, connection) = tokio_postgres::connect(&admin, NoTls)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "PostgreSQL is not reachable at {admin} ({error}); run the README test command (scripts/test), which starts it, or set TEST_POSTGRES_URL"
                )
            });
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("creating the test database");
        let url = match admin.rsplit_once('/') {
            Some((server, _)) => format!("{server}/{name}"),
            None => panic!("TEST_POSTGRES_URL must end in /DATABASE: {admin}"),
        };
        Self { name, url }
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside or outside a runtime; a thread of its own works in both.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&admin_url(), NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// Every text and bytea value of every table in the database's `public` schema, concatenated:
/// what the database holds, for checks that some text is not in it.
pub async fn stored_values(url: &str) -> Vec<u8> {
    use tokio_postgres::types::Type;
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let tables: Vec<String> = client
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        tables.iter().any(|table| table == "interactions"),
        "the servscore tables exist: {tables:?}"
    );
    let mut bytes = Vec::new();
    for table in tables {
        for row in client
            .query(&format!("SELECT * FROM {table}"), &[])
            .await
            .unwrap()
        {
            for (index, column) in row.columns().iter().enumerate() {
                if *column.type_() == Type::BYTEA {
                    bytes.extend(row.get::<_, Option<Vec<u8>>>(index).unwrap_or_default());
                } else if *column.type_() == Type::TEXT {
                    bytes.extend(
                        row.get::<_, Option<String>>(index)
                            .unwrap_or_default()
                            .bytes(),
                    );
                }
            }
        }
    }
    bytes
}

/// Runs `sql` on the database behind the service's back.
pub async fn execute(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute(sql).await
}
