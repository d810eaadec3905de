//! The notifies Alipay would POST to the shop's notify URL, signed with the fake's key.

use std::collections::BTreeMap;

use super::FakeAlipay;
use super::trades::{fnv, now_gmt8, trade_no_of};

impl FakeAlipay {
    /// The form Alipay would POST to the notify URL about this trade (values not URL-encoded),
    /// signed as Alipay documents (docs/providers.md §3: every non-empty parameter but `sign` and
    /// `sign_type`, sorted).
    /// Each call has a new `notify_id`. It does not change what the order answers: `pay` first
    /// for a consistent picture.
    pub fn signed_notify(&self, out_trade_no: &str, total_amount: &str, trade_status: &str) -> Vec<(String, String)> {
        let serial = {
            let mut inner = self.shared.lock();
            inner.notifies += 1;
            inner.notifies
        };
        let now = now_gmt8();
        // Unique like Alipay's: the fake's own serial, and a process-wide one for several fakes.
        static NOTIFIES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let global = NOTIFIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let notify_id = format!("{:032x}", fnv(&format!("{out_trade_no}/{serial}/{global}/{now}/{trade_status}")));
        let mut form: Vec<(String, String)> = [
            ("notify_time", now.as_str()),
            ("notify_type", "trade_status_sync"),
            ("notify_id", &notify_id),
            ("app_id", &self.shared.config.app_id),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("sign_type", "RSA2"),
            ("trade_no", &trade_no_of(out_trade_no)),
            ("out_trade_no", out_trade_no),
            ("buyer_id", "2088102177846880"),
            ("seller_id", &self.shared.config.seller_id),
            ("trade_status", trade_status),
            ("total_amount", total_amount),
            ("receipt_amount", total_amount),
            ("gmt_create", &now),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        match trade_status {
            "TRADE_SUCCESS" | "TRADE_FINISHED" => form.push(("gmt_payment".into(), now.clone())),
            "TRADE_CLOSED" => form.push(("gmt_close".into(), now.clone())),
            _ => {}
        }
        let signed: BTreeMap<&str, &str> = form
            .iter()
            .filter(|(k, v)| k != "sign" && k != "sign_type" && !v.is_empty())
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let content: Vec<String> = signed.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let sign = self.shared.sign(&content.join("&"));
        form.push(("sign".into(), sign));
        form
    }
}
