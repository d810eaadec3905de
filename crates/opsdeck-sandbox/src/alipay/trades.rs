//! The trade book: what each order answers, as a test scripted it (or as the buyer's payment
//! and the trade's `time_expire` left it), and the answer of `alipay.trade.query` and
//! `alipay.trade.close` from it; Alipay's trade numbers and its GMT+8 clock.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use super::gateway::{CLOSE, Reply};
use super::{FakeAlipay, Shared};

/// What an order answers from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `TRADE_SUCCESS` with this amount (`"12.50"`); close answers `ACQ.TRADE_STATUS_ERROR`.
    Paid { total_amount: String },
    /// `TRADE_FINISHED` (paid, past the refund window); close answers `ACQ.TRADE_STATUS_ERROR`.
    Finished { total_amount: String },
    /// `WAIT_BUYER_PAY`; close closes it.
    Waiting,
    /// `ACQ.TRADE_NOT_EXIST` to query and close (the default for an order never set).
    NotExist,
    /// The next `times` calls about the order answer `ACQ.SYSTEM_ERROR`; then it answers as it
    /// did before (its state is kept).
    SystemError { times: u32 },
    /// `TRADE_CLOSED`; close answers `ACQ.TRADE_STATUS_ERROR`.
    Closed,
}

#[derive(Debug, Clone)]
enum TradeState {
    NotExist,
    Waiting,
    Paid { total_amount: String, paid_at: String },
    Finished { total_amount: String, paid_at: String },
    Closed,
}

pub(super) struct Trade {
    state: TradeState,
    system_errors: u32,
    /// The absolute `time_expire` it was created with: waiting past it, Alipay closes it.
    time_expire: Option<DateTime<FixedOffset>>,
}

impl Trade {
    pub(super) fn new() -> Trade {
        Trade { state: TradeState::NotExist, system_errors: 0, time_expire: None }
    }

    /// Alipay closes a trade still waiting at its `time_expire`.
    fn lapse(&mut self) {
        if matches!(self.state, TradeState::Waiting) && self.time_expire.is_some_and(|at| Utc::now() >= at) {
            self.state = TradeState::Closed;
        }
    }
}

impl FakeAlipay {
    /// What `out_trade_no` answers from now on.
    pub fn set(&self, out_trade_no: &str, outcome: Outcome) {
        let mut inner = self.shared.lock();
        let trade = inner.trades.entry(out_trade_no.to_string()).or_insert_with(Trade::new);
        trade.state = match outcome {
            Outcome::SystemError { times } => {
                trade.system_errors = times;
                return;
            }
            Outcome::Paid { total_amount } => TradeState::Paid { total_amount, paid_at: now_gmt8() },
            Outcome::Finished { total_amount } => TradeState::Finished { total_amount, paid_at: now_gmt8() },
            Outcome::Waiting => TradeState::Waiting,
            Outcome::NotExist => TradeState::NotExist,
            Outcome::Closed => TradeState::Closed,
        };
    }

    /// The shop created the trade with an absolute `time_expire` (`yyyy-MM-dd HH:mm:ss`, GMT+8)
    /// and the buyer opened its payment page: it waits for payment until then, and is closed
    /// after (as Alipay does). An unreadable `time_expire` is refused, as Alipay refuses it.
    pub fn open_trade(&self, out_trade_no: &str, time_expire: &str) -> Result<(), String> {
        let local = NaiveDateTime::parse_from_str(time_expire, "%Y-%m-%d %H:%M:%S")
            .map_err(|e| format!("time_expire {time_expire:?}: {e}"))?;
        let at = gmt8().from_local_datetime(&local).single().ok_or("time_expire: no such time in GMT+8")?;
        let mut inner = self.shared.lock();
        let trade = inner.trades.entry(out_trade_no.to_string()).or_insert_with(Trade::new);
        trade.state = TradeState::Waiting;
        trade.time_expire = Some(at);
        Ok(())
    }

    /// The buyer paid: `set(out_trade_no, Outcome::Paid { total_amount })`, unless the trade was
    /// opened with a `time_expire` that has passed (Alipay closed it: the buyer cannot pay);
    /// whether the payment went through.
    pub fn pay(&self, out_trade_no: &str, total_amount: &str) -> bool {
        {
            let mut inner = self.shared.lock();
            if let Some(trade) = inner.trades.get_mut(out_trade_no) {
                trade.lapse();
                if trade.time_expire.is_some() && matches!(trade.state, TradeState::Closed) {
                    return false;
                }
            }
        }
        self.set(out_trade_no, Outcome::Paid { total_amount: total_amount.to_string() });
        true
    }
}

/// Alipay's trade number for an order: 28 digits, the same every time.
pub(super) fn trade_no_of(out_trade_no: &str) -> String {
    format!("2026{:024}", fnv(out_trade_no) % 10u128.pow(24))
}

pub(super) fn fnv(text: &str) -> u128 {
    // FNV-1a, 128-bit: deterministic across runs and platforms (std's hasher is not).
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in text.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000000001000000000000000000013B);
    }
    hash
}

pub(super) fn gmt8() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("GMT+8 is a valid offset")
}

pub(super) fn now_gmt8() -> String {
    Utc::now().with_timezone(&gmt8()).format("%Y-%m-%d %H:%M:%S").to_string()
}

pub(super) fn business(shared: &Shared, method: &str, biz: &Value) -> Reply {
    let mut inner = shared.lock();
    let by_out = biz.get("out_trade_no").and_then(Value::as_str).filter(|o| !o.is_empty());
    let by_trade_no = biz.get("trade_no").and_then(Value::as_str).filter(|t| !t.is_empty());
    let out_trade_no = match (by_out, by_trade_no) {
        (Some(out), _) => out.to_string(),
        (None, Some(trade_no)) => match inner.trades.keys().find(|out| trade_no_of(out) == trade_no) {
            Some(out) => out.clone(),
            None => return Reply::failed(method, "", "ACQ.TRADE_NOT_EXIST", "交易不存在"),
        },
        (None, None) => return Reply::failed(method, "", "ACQ.INVALID_PARAMETER", "参数无效"),
    };
    let Some(trade) = inner.trades.get_mut(&out_trade_no) else {
        return Reply::failed(method, &out_trade_no, "ACQ.TRADE_NOT_EXIST", "交易不存在");
    };
    trade.lapse();
    if trade.system_errors > 0 {
        trade.system_errors -= 1;
        return Reply::failed(method, &out_trade_no, "ACQ.SYSTEM_ERROR", "系统错误");
    }
    let trade_no = trade_no_of(&out_trade_no);
    if method == CLOSE {
        return match trade.state {
            TradeState::NotExist => Reply::failed(method, &out_trade_no, "ACQ.TRADE_NOT_EXIST", "交易不存在"),
            TradeState::Waiting => {
                trade.state = TradeState::Closed;
                Reply::business(
                    method,
                    &[
                        ("code", Some("10000")),
                        ("msg", Some("Success")),
                        ("trade_no", Some(&trade_no)),
                        ("out_trade_no", Some(&out_trade_no)),
                    ],
                )
            }
            _ => Reply::failed(method, &out_trade_no, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法"),
        };
    }
    let (status, amount, paid_at) = match &trade.state {
        TradeState::NotExist => return Reply::failed(method, &out_trade_no, "ACQ.TRADE_NOT_EXIST", "交易不存在"),
        TradeState::Waiting => ("WAIT_BUYER_PAY", None, None),
        TradeState::Closed => ("TRADE_CLOSED", None, None),
        TradeState::Paid { total_amount, paid_at } => {
            ("TRADE_SUCCESS", Some(total_amount.as_str()), Some(paid_at.as_str()))
        }
        TradeState::Finished { total_amount, paid_at } => {
            ("TRADE_FINISHED", Some(total_amount.as_str()), Some(paid_at.as_str()))
        }
    };
    Reply::business(
        method,
        &[
            ("code", Some("10000")),
            ("msg", Some("Success")),
            ("trade_no", Some(&trade_no)),
            ("out_trade_no", Some(&out_trade_no)),
            ("buyer_logon_id", Some("159****5620")),
            ("trade_status", Some(status)),
            ("total_amount", amount),
            ("buyer_pay_amount", amount),
            ("invoice_amount", amount),
            ("receipt_amount", amount),
            ("send_pay_date", paid_at),
            ("buyer_user_id", Some("2088102177846880")),
        ],
    )
}
