//! A PostgreSQL database of a test's own on the machine's server
//! (`HALLEY_TEST_POSTGRES`, default `postgres://127.0.0.1:5432/test`),
//! created empty and dropped when the test ends.

use sqlx::Connection;

pub struct TestDatabase {
    pub url: String,
    name: String,
}

/// The server's URL with the database `name` in place of its own.
fn url_of(name: &str) -> String {
    let base = std::env::var("HALLEY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into());
    let mut url = reqwest::Url::parse(&base).expect("HALLEY_TEST_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

async fn admin_execute(sql: &str) {
    let mut connection = sqlx::PgConnection::connect(&url_of("test"))
        .await
        .expect("the test PostgreSQL server answers");
    sqlx::raw_sql(sql)
        .execute(&mut connection)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = connection.close().await;
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let name = format!("halley_test_{}", uuid::Uuid::new_v4().simple());
        admin_execute(&format!("CREATE DATABASE {name}")).await;
        TestDatabase {
            url: url_of(&name),
            name,
        }
    }

    /// For tests without a runtime of their own.
    pub fn create_blocking() -> TestDatabase {
        on_own_runtime(TestDatabase::create)
    }
}

/// Runs the future `work` makes on a runtime of its own thread, so that it
/// may be called from inside another runtime (a `Drop`) or outside any.
fn on_own_runtime<T, F>(work: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: std::future::Future<Output = T>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work())
    })
    .join()
    .expect("the PostgreSQL helper thread")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        on_own_runtime(move || async move { admin_execute(&sql).await });
    }
}
