//! Submissions, batched: every submission waiting while the previous batch was written goes
//! into the next one, so N concurrent submitters cost one INSERT, one SELECT and one Redis
//! script per batch instead of N of each (group commit). A lone submission is a batch of one
//! and waits for nobody.

use std::collections::HashMap;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use super::baidu::Side;
use super::model::{OcrStatus, OcrSubmitted, result_json};
use super::queue::Queue;
use super::store::{self, NewRequest, Stored};
use crate::db::Database;
use crate::error::{ApiError, ErrorCode};

const MAX_BATCH: usize = 500;

type Answer = Result<(OcrSubmitted, Option<i64>), ApiError>;

struct Pending {
    request: NewRequest,
    done: oneshot::Sender<Answer>,
}

/// The sending side; the writer task ends when every clone is dropped.
#[derive(Clone)]
pub struct Submitter {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Submitter {
    pub fn start(db: Database, queue: Queue, instance: String) -> Submitter {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(db, queue, instance, rx));
        Submitter { tx }
    }

    /// Submits one validated request. The answer's second part is the id of a dead or
    /// cancelled request this submission revived (for the caller to announce).
    pub async fn submit(&self, request: NewRequest) -> Answer {
        let (done, answer) = oneshot::channel();
        self.tx
            .send(Pending { request, done })
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("the OCR queue has stopped")))?;
        answer.await.unwrap_or_else(|_| Err(ApiError::Internal(anyhow::anyhow!("the OCR queue has stopped"))))
    }
}

async fn write_loop(db: Database, queue: Queue, instance: String, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut sequence: u64 = 0;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        sequence += 1;
        let tag = format!("{instance}:{sequence}");
        let answers = write_batch(&db, &queue, &tag, &batch).await;
        for (pending, answer) in batch.into_iter().zip(answers) {
            let _ = pending.done.send(answer);
        }
    }
}

/// Writes one batch; one answer per submission, in order.
async fn write_batch(db: &Database, queue: &Queue, tag: &str, batch: &[Pending]) -> Vec<Answer> {
    // The same URL twice in one batch is one row.
    let mut unique: Vec<NewRequest> = Vec::with_capacity(batch.len());
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for p in batch {
        if seen.insert(p.request.url.as_str(), ()).is_none() {
            unique.push(p.request.clone());
        }
    }
    let now = Utc::now();
    let rows = match store::insert_batch(db, &unique, tag, now).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, submissions = batch.len(), "cannot store OCR submissions");
            // Nothing was stored: every submitter learns the database is the trouble.
            let message = crate::health::describe_error(&e);
            return batch.iter().map(|_| Err(ApiError::DatabaseUnavailable(message.clone()))).collect();
        }
    };
    let by_url: HashMap<&str, &Stored> = rows.iter().map(|s| (s.request.url.as_str(), s)).collect();

    // Dead requests submitted again are tried again; cancelled ones start afresh (a cancel is
    // staff's "not now", not "never for this URL").
    let dead: Vec<i64> = rows
        .iter()
        .filter(|s| matches!(s.request.status, OcrStatus::Dead | OcrStatus::Cancelled) && side_matches(batch, s))
        .map(|s| s.request.id)
        .collect();
    let revived = match store::revive(db.pool(), &dead, true, now).await {
        Ok(revived) => revived,
        Err(e) => {
            tracing::warn!(error = %e, "cannot revive dead OCR requests");
            Vec::new()
        }
    };
    // New rows, and revived ones, go to the stream (idempotent: Redis adds only ids it does not
    // know). If Redis is down they stay pending in SQL, and reconcile enqueues them later.
    let mut to_enqueue: Vec<(i64, i64)> = rows.iter().filter(|s| s.batch == tag).map(|s| (s.request.id, 0)).collect();
    to_enqueue.extend(revived.iter().map(|id| (*id, 0)));
    // A revived request starts its count of calls afresh (as its attempts in SQL did).
    if let Err(e) = queue.forget_started(&revived).await {
        tracing::warn!(error = %e, "cannot reset the call counts of revived OCR requests");
    }
    if let Err(e) = queue.enqueue(&to_enqueue).await {
        tracing::warn!(error = %e, requests = to_enqueue.len(), "cannot enqueue OCR requests; reconcile will");
    }

    let mut answered_new: HashMap<i64, ()> = HashMap::new();
    batch
        .iter()
        .map(|p| {
            let Some(stored) = by_url.get(p.request.url.as_str()) else {
                return Err(ApiError::Internal(anyhow::anyhow!("a submitted request was not stored")));
            };
            let request = &stored.request;
            if request.side != p.request.side {
                let side = side_name(request.side);
                return Err(ApiError::coded(
                    ErrorCode::OcrSideTaken,
                    format!("this URL was submitted as the {side} side already (request {})", request.id),
                )
                .field("side")
                .param("side", side)
                .param("id", request.id));
            }
            // The first submission of a new URL in this batch created it; any other found it.
            let created = stored.batch == tag && answered_new.insert(request.id, ()).is_none();
            let was_revived = revived.contains(&request.id);
            let status = if was_revived { OcrStatus::Pending } else { request.status };
            let result = match (&request.result, status) {
                (Some(card), OcrStatus::Done) => Some(result_json(request.id, card)),
                _ => None,
            };
            Ok((
                OcrSubmitted { request_id: request.id, status, existing: !created, result },
                was_revived.then_some(request.id),
            ))
        })
        .collect()
}

fn side_matches(batch: &[Pending], stored: &Stored) -> bool {
    batch.iter().any(|p| p.request.url == stored.request.url && p.request.side == stored.request.side)
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Front => "front",
        Side::Back => "back",
    }
}
