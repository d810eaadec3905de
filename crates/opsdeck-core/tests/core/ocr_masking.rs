//! The ID card leaves the core masked as a whole (name, ID number, birth date, address); only an
//! operator reveals it, and every reveal is audited.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use opsdeck_api::ErrorBody;
use opsdeck_api::Event;
use opsdeck_core::Actor;
use opsdeck_core::accounts::model::Role;
use opsdeck_core::ocr::baidu::{IdCard, IdCardFields, IdCardFront, Side};
use opsdeck_core::ocr::model::Masked;
use opsdeck_core::ocr::model::{OcrQuery, OcrRequest, OcrStatus, mask_address};
use opsdeck_sandbox::baidu::BaiduConfig;

use crate::helpers::{redis_url, unique, until};
use crate::ocr::{fake, start, url};
use crate::session::{staff, user};

/// Every run of four consecutive digits among digits 5-14 (1-based) of an ID number: the county
/// (5-6) and the birth date (7-14).
fn middle_runs(id_number: &str) -> Vec<String> {
    let middle: Vec<char> = id_number.chars().skip(4).take(10).collect();
    middle.windows(4).map(|w| w.iter().collect()).collect()
}

/// The birth date (yyyyMMdd) written the ways people write dates.
fn date_forms(yyyymmdd: &str) -> Vec<String> {
    let (y, m, d) = (&yyyymmdd[..4], &yyyymmdd[4..6], &yyyymmdd[6..8]);
    let (mu, du) = (m.trim_start_matches('0'), d.trim_start_matches('0'));
    vec![
        yyyymmdd.to_string(),
        format!("{y}-{m}-{d}"),
        format!("{y}/{m}/{d}"),
        format!("{y}.{m}.{d}"),
        format!("{y}年{m}月{d}日"),
        format!("{y}年{mu}月{du}日"),
        format!("{m}/{d}/{y}"),
        format!("{d}.{m}.{y}"),
    ]
}

/// Fails when `json` holds any of the card's personal details beyond what masking keeps.
fn assert_masked(json: &str, card: &IdCardFront) {
    for run in middle_runs(&card.id_number) {
        assert!(!json.contains(&run), "digits {run} of the ID number's middle in {json}");
    }
    for form in date_forms(&card.birth_date) {
        assert!(!json.contains(&form), "the birth date as {form} in {json}");
    }
    assert!(!json.contains(&card.id_number), "the whole ID number in {json}");
    assert!(!json.contains(&card.name), "the name in {json}");
    assert!(!json.contains(&card.address), "the address in {json}");
}

/// `value` as JSON without the parts that are not the card's and carry digits of their own (the
/// image URL with its test-unique name, times, ids), so that the digit check cannot be fooled by
/// a coincidence with them.
fn card_parts<T: serde::Serialize>(value: &T) -> String {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for noise in [
                    "url",
                    "created_at",
                    "updated_at",
                    "finished_at",
                    "next_attempt_at",
                    "at",
                    "log_id",
                    "id",
                    "instance",
                ] {
                    map.remove(noise);
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(value).unwrap();
    strip(&mut value);
    value.to_string()
}

fn card() -> IdCardFront {
    IdCardFront {
        name: "王小明".into(),
        // A valid GB 11643 number: Xuanwu district of Nanjing (320102), born 1990-03-07.
        id_number: "320102199003071239".into(),
        gender: "男".into(),
        nation: "汉".into(),
        birth_date: "19900307".into(),
        address: "江苏省南京市玄武区中山路18号3栋1990室".into(),
    }
}

fn record(front: IdCardFront) -> OcrRequest {
    let at = Utc.with_ymd_and_hms(2026, 12, 4, 6, 0, 0).unwrap();
    OcrRequest {
        id: 7,
        url: "https://img.example.com/card.jpg".into(),
        side: Side::Front,
        status: OcrStatus::Done,
        attempts: 1,
        created_at: at,
        updated_at: at,
        next_attempt_at: None,
        finished_at: Some(at),
        error: None,
        error_code: None,
        result: Some(IdCard {
            fields: IdCardFields::Front(front),
            image_status: "normal".into(),
            risk_type: Some("normal".into()),
            idcard_number_type: Some(1),
            log_id: Some(5_555_555_555),
        }),
        instance: Some("desk-1".into()),
    }
}

#[test]
fn a_masked_record_carries_no_birth_date_and_no_four_digits_of_the_id_numbers_middle() {
    let card = card();
    let clear = serde_json::to_string(&record(card.clone())).unwrap();
    // The check is not vacuous: the record in the clear fails it.
    assert!(middle_runs(&card.id_number).iter().all(|run| clear.contains(run)), "{clear}");

    let masked = serde_json::to_value(record(card.clone()).masked()).unwrap();
    assert_masked(&masked.to_string(), &card);
    let fields = &masked["result"]["fields"];
    assert_eq!(fields["id_number"], "3201**********1239", "first and last four kept");
    assert_eq!(fields["birth_date"], "********");
    assert_eq!(fields["address"], "江苏省南京市****", "province and city at most");
    assert_eq!(fields["name"], "王**");
    assert_eq!((fields["gender"].as_str(), fields["nation"].as_str()), (Some("男"), Some("汉")));
}

#[test]
fn addresses_keep_at_most_their_province_and_city() {
    for (address, kept) in [
        ("北京市朝阳区建国路88号", "北京市****"),
        ("上海市黄浦区南京东路100号", "上海市****"),
        ("广东省深圳市南山区科技园路1号", "广东省深圳市****"),
        ("内蒙古自治区呼和浩特市新城区", "内蒙古自治区呼和浩特市****"),
        ("吉林省延边朝鲜族自治州延吉市", "吉林省延边朝鲜族自治州****"),
        ("海南省琼中黎族苗族自治县营根镇红星路十九号", "海南省****"),
        ("香港特别行政区九龙", "香港特别行政区****"),
        // No province first: nothing kept.
        ("中山路18号", "****"),
        ("玄武区1990号", "****"),
        ("", "****"),
    ] {
        assert_eq!(mask_address(address), kept, "{address}");
    }
}

#[test]
fn the_card_never_prints() {
    let card = card();
    let printed = format!("{:?} {:?}", card, record(card.clone()));
    assert_masked(&printed, &card);
    for masked in ["3201**********1239", "王**"] {
        assert!(!printed.contains(masked), "{masked} in {printed}");
    }
}

#[tokio::test]
async fn the_console_gets_the_card_masked_and_only_an_operator_reveals_it_audited() {
    let dir = tempfile::tempdir().unwrap();
    let baidu = fake(BaiduConfig { qps: 1000, latency: Duration::from_millis(5), ..BaiduConfig::default() }).await;
    let core = start(dir.path(), &redis_url(), &unique("t"), &baidu, &[]).await;
    let viewer = Actor::staff(&staff(user(&core, "vera", Some(Role::Viewer)).await, Role::Viewer));
    let operator_id = user(&core, "otto", Some(Role::Operator)).await;
    let operator = Actor::staff(&staff(operator_id, Role::Operator));
    let mut events = core.subscribe();

    let image = url("masked");
    let id = core.ocr_submit(&image, Side::Front).await.unwrap().request_id;
    let pushed = until("the recognised request pushed", || {
        let got = match events.try_recv() {
            Ok(Event::OcrUpdated { request }) if request.status == OcrStatus::Done => Some(request),
            _ => None,
        };
        std::future::ready(got)
    })
    .await;
    let got = core.ocr_get(id, &viewer).await.unwrap();
    let listed = core.ocr_list(OcrQuery { limit: 10, ..OcrQuery::default() }, &viewer).await.unwrap();

    // Submitted again from the console: the kept result comes back masked too.
    let again = core.ocr_submit_by(&image, Side::Front, &operator).await.unwrap();
    let shop_lookup = core.ocr_lookup(&image).await.unwrap().unwrap();
    // Neither prints the card, should either ever be logged.
    let printed = format!("{again:?} {shop_lookup:?} {:?}", core.ocr_submit(&image, Side::Front).await.unwrap())
        .replace(&image, "<image>");
    let again = card_parts(&again.result.expect("the kept result"));

    // A viewer may not reveal; nothing is audited.
    let refused = core.ocr_reveal(id, &viewer).await.unwrap_err();
    assert_eq!(ErrorBody::from(refused).code, "forbidden");
    let audited = |core: opsdeck_core::Core| async move {
        let page = core.audit_list(50, None, &Actor::system("tester")).await.unwrap();
        page.entries.into_iter().filter(|e| e.action == "ocr.reveal").collect::<Vec<_>>()
    };
    assert!(audited(core.clone()).await.is_empty());

    // An operator sees the card in full, as Baidu read it (what the shop gets by URL), audited.
    let card = core.ocr_reveal(id, &operator).await.unwrap();
    assert_masked(&printed, &card);
    let shop = core.ocr_lookup(&image).await.unwrap().unwrap().result.unwrap();
    assert_eq!(card.id_number, shop["code"].as_str().unwrap());
    assert_eq!(card.birth_date, shop["birth_date"].as_str().unwrap());
    assert_eq!(card.address, shop["address"].as_str().unwrap());
    let entries = audited(core.clone()).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((entries[0].who.as_str(), entries[0].target.as_str()), (operator.name(), &*format!("ocr:{id}")));
    assert_masked(&card_parts(&entries[0]), &card);

    // Everything the console was given before is masked.
    for (what, json) in [
        ("ocr_get", card_parts(&got)),
        ("ocr_list", card_parts(&listed)),
        ("the pushed event", card_parts(&pushed)),
        ("ocr_submit_by", again),
    ] {
        assert!(json.contains(&card.id_number[..4]), "{what}: {json}");
        assert_masked(&json, &card);
    }
    // A role removed since: no reveal, whatever the caller kept.
    core.staff_set_role(operator_id, None, &Actor::system("tester")).await.unwrap();
    let stale = core.ocr_reveal(id, &operator).await.unwrap_err();
    assert_eq!(ErrorBody::from(stale).code, "forbidden");
    assert_eq!(audited(core.clone()).await.len(), 1);
    core.shutdown().await;
}
