//! The async notify Alipay POSTs: its signature verified over the form as received, then
//! checked to be for this app (and seller) with a status we know.

use super::{AlipayClient, Notify, NotifyError, Signed, TradeStatus, signing_content};

impl AlipayClient {
    /// Verifies an async notify: `form` is the POSTed form, URL-decoded, as received. Checks the
    /// signature (over every non-empty parameter but `sign` and `sign_type`), that it is for
    /// this app (and this seller, when one is configured) and that its status is one we know;
    /// comparing `out_trade_no` and `total_amount` with the order is the caller's.
    pub fn verify_notify(&self, form: &[(String, String)]) -> Result<Notify, NotifyError> {
        for (i, (key, _)) in form.iter().enumerate() {
            if form[..i].iter().any(|(seen, _)| seen == key) {
                return Err(NotifyError::Malformed(format!("{key} appears twice")));
            }
        }
        let get = |name: &'static str| -> Result<&str, NotifyError> {
            form.iter()
                .find(|(key, value)| key == name && !value.is_empty())
                .map(|(_, value)| value.as_str())
                .ok_or(NotifyError::MissingField(name))
        };
        let sign = get("sign")?;
        if let Ok(sign_type) = get("sign_type")
            && sign_type != "RSA2"
        {
            return Err(NotifyError::Malformed(format!("sign_type {sign_type}, expected RSA2")));
        }
        // A `+` decoded once too often arrives as a space; base64 has no spaces.
        let sign = sign.replace(' ', "+");
        if !self.verifies(signing_content(form, true).as_bytes(), &sign) {
            return Err(NotifyError::BadSignature);
        }
        let about = Signed {
            out_trade_no: get("out_trade_no").unwrap_or_default().to_string(),
            trade_no: get("trade_no").unwrap_or_default().to_string(),
            notify_id: get("notify_id").unwrap_or_default().to_string(),
        };
        let refused =
            |field: &'static str, reason: String| NotifyError::Refused { about: about.clone(), field, reason };
        let app_id = get("app_id")?;
        if app_id != self.app_id {
            return Err(refused("app_id", format!("the notify is for another app: {app_id}")));
        }
        if let Some(ours) = &self.seller_id {
            let seller_id = get("seller_id").unwrap_or_default();
            if seller_id != ours {
                return Err(refused("seller_id", format!("the notify is for another seller: {seller_id:?}")));
            }
        }
        let status = get("trade_status")?;
        let trade_status = TradeStatus::from_trade_status(status)
            .ok_or_else(|| refused("trade_status", format!("unknown trade_status {status:?}")))?;
        Ok(Notify {
            out_trade_no: get("out_trade_no")?.to_string(),
            trade_no: get("trade_no")?.to_string(),
            trade_status,
            total_amount: get("total_amount")?.to_string(),
            app_id: app_id.to_string(),
            notify_id: get("notify_id")?.to_string(),
        })
    }
}
