//! The listening connection: one per process, outside the pool, `LISTEN`ing on the rollup and
//! catalog channels and turning notifications into [`Notice`]s. Whenever it (re)connects it
//! announces [`Notice::Resync`], so that whoever follows the change feed reads it from where it
//! left off: notifications lost while the connection was down are caught up from the table.

use std::time::Duration;

use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{CATALOG_CHANNEL, ROLLUPS_CHANNEL};
use crate::storage::Notice;

/// Pause before connecting again after the listening connection failed.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Listens until the task is aborted.
pub async fn listen(config: tokio_postgres::Config, notices: broadcast::Sender<Notice>) {
    loop {
        match listen_once(&config, &notices).await {
            Ok(()) => tracing::warn!("the postgres listening connection closed; reconnecting"),
            Err(error) => {
                tracing::warn!(%error, "the postgres listening connection failed; reconnecting")
            }
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

async fn listen_once(
    config: &tokio_postgres::Config,
    notices: &broadcast::Sender<Notice>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (messages, mut received) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|context| connection.poll_message(context)).await {
                Some(Ok(message)) => {
                    if messages.send(message).is_err() {
                        return Ok(());
                    }
                }
                Some(Err(error)) => return Err(error),
                None => return Ok(()),
            }
        }
    });
    client
        .batch_execute(&format!(
            "LISTEN {ROLLUPS_CHANNEL}; LISTEN {CATALOG_CHANNEL}"
        ))
        .await?;
    // Anything may have happened while nobody listened.
    let _ = notices.send(Notice::Resync);
    while let Some(message) = received.recv().await {
        if let AsyncMessage::Notification(notification) = message {
            let notice = match notification.channel() {
                ROLLUPS_CHANNEL => Notice::Rollups,
                CATALOG_CHANNEL => Notice::Catalog,
                _ => continue,
            };
            // No follower is not an error.
            let _ = notices.send(notice);
        }
    }
    drop(client);
    match driver.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}
