//! Accounts, issue 16: who may act on whom (an operator never on an admin, always on
//! themselves), the explicit first admin of a shared database, role changes that cannot race,
//! sign-in attempts bound to their window or customer session, phone numbers only when the
//! provider verified them. SQLite and MariaDB.

use opsdeck_api::ErrorBody;
use opsdeck_core::Core;
use opsdeck_core::accounts::bootstrap::{GRANT_ADMIN_ACTOR, GrantTarget, grant_admin, grant_admin_on};
use opsdeck_core::accounts::model::{ProviderKey, Purpose, Role, SignInOutcome};
use opsdeck_core::accounts::{Actor, Callback};
use opsdeck_sandbox::oauth::Provider;

use crate::accounts::{BINDING, World, code_of, follow_to_redirect, key_of, oidc_issuer, oidc_login, signed_in};
use crate::helpers::{fresh_mysql_url, toml_string};

/// A staff member as the console's session holds them.
fn staff_actor(user_id: i64, role: Role) -> Actor {
    Actor::staff(&crate::session::staff(user_id, role))
}

async fn set_mobile(core: &Core, user_id: i64, mobile: Option<&str>) {
    sqlx::query("UPDATE users SET mobile = ? WHERE id = ?")
        .bind(mobile.map(str::to_string))
        .bind(user_id)
        .execute(core.database().pool())
        .await
        .unwrap();
}

async fn pending_request(world: &World, provider: Provider) -> opsdeck_core::accounts::model::LinkRequest {
    match world.sign_in(provider).await.unwrap() {
        SignInOutcome::PendingLink { request } => request,
        other => panic!("expected a link request, got {other:?}"),
    }
}

#[tokio::test]
async fn an_operator_cannot_link_unlink_or_accept_for_an_admin_but_can_for_themselves() {
    let world = World::start(None, &[]).await;
    let (admin_id, _, admin) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    let admin = Actor::staff(&admin.unwrap());
    assert_eq!(admin.role(), Role::Admin, "the embedded default database: one person's own");
    let (operator_id, _, none) = signed_in(world.sign_in(Provider::Wechat).await.unwrap());
    assert!(none.is_none());
    world.core.staff_set_role(operator_id, Some(Role::Operator), &admin).await.unwrap();
    let operator = staff_actor(operator_id, Role::Operator);

    // Nobody links to a user that does not exist.
    assert_eq!(
        code_of(world.core.link_start(9999, ProviderKey::Qq, &admin, BINDING).await.unwrap_err()),
        "user_not_found"
    );
    // Linking: not to the admin, but to themselves.
    let e = world.core.link_start(admin_id, ProviderKey::Qq, &operator, BINDING).await.unwrap_err();
    assert!(e.code() == "forbidden" && e.to_string().contains("admin"), "{e}");
    let auth = world.core.link_start(operator_id, ProviderKey::Qq, &operator, BINDING).await.unwrap();
    let redirect = follow_to_redirect(&auth.url, &world.fake(Provider::Qq).config().redirect_uri).await;
    let linked = world.core.oauth_callback(ProviderKey::Qq, Callback::from_url(&redirect), BINDING).await.unwrap();
    assert!(matches!(&linked, SignInOutcome::Linked { user } if user.id == operator_id), "{linked:?}");

    // Unlinking: not the admin's sign-in, but their own.
    let admin_link = world.core.user_get(admin_id).await.unwrap().links[0].id;
    assert_eq!(code_of(world.core.unlink(admin_link, &operator).await.unwrap_err()), "forbidden");
    assert_eq!(world.core.user_get(admin_id).await.unwrap().links.len(), 1, "nothing was unlinked");
    let own_qq = world
        .core
        .user_get(operator_id)
        .await
        .unwrap()
        .links
        .iter()
        .find(|l| l.provider == ProviderKey::Qq)
        .unwrap()
        .id;
    assert_eq!(world.core.unlink(own_qq, &operator).await.unwrap().links.len(), 1);

    // A link request for the admin (a DingTalk sign-in with the admin's mobile): not theirs to accept.
    let dingtalk = world.fake(Provider::Dingtalk).config().users.clone();
    let mobile = dingtalk[0].mobile.clone().unwrap();
    set_mobile(&world.core, admin_id, Some(&mobile)).await;
    let request = pending_request(&world, Provider::Dingtalk).await;
    assert_eq!(request.user_id, admin_id);
    assert_eq!(request.verified, vec!["mobile".to_string()], "DingTalk verified the mobile, not the email");
    assert_eq!(code_of(world.core.link_request_resolve(request.id, true, &operator).await.unwrap_err()), "forbidden");
    let waiting = world.core.link_requests_list(&admin).await.unwrap();
    assert_eq!(waiting.iter().map(|r| r.id).collect::<Vec<_>>(), vec![request.id], "the request still waits");
    world.core.link_request_resolve(request.id, false, &admin).await.unwrap();

    // The same for the operator themselves: accepted.
    set_mobile(&world.core, admin_id, None).await;
    set_mobile(&world.core, operator_id, Some(&mobile)).await;
    let request = pending_request(&world, Provider::Dingtalk).await;
    assert_eq!(request.user_id, operator_id);
    let user = world.core.link_request_resolve(request.id, true, &operator).await.unwrap().unwrap();
    assert!(user.links.iter().any(|l| l.provider == ProviderKey::Dingtalk));

    // Another operator is at the operator's level: refused too; a customer (no role) is fine.
    world.core.staff_set_role(admin_id, Some(Role::Admin), &admin).await.unwrap();
    let peer_link = world.core.user_get(operator_id).await.unwrap().links[0].id;
    let (peer_id, ..) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    world.core.staff_set_role(peer_id, Some(Role::Operator), &admin).await.unwrap();
    let peer = staff_actor(peer_id, Role::Operator);
    assert_eq!(code_of(world.core.unlink(peer_link, &peer).await.unwrap_err()), "forbidden");
    world.core.staff_set_role(peer_id, None, &admin).await.unwrap();
    assert!(world.core.link_start(peer_id, ProviderKey::Weibo, &operator, BINDING).await.is_ok());
    // An operator whose role was removed meanwhile acts on nobody, themselves included.
    world.core.staff_set_role(operator_id, None, &admin).await.unwrap();
    assert_eq!(
        code_of(world.core.link_start(operator_id, ProviderKey::Weibo, &operator, BINDING).await.unwrap_err()),
        "forbidden"
    );
    world.core.shutdown().await;
}

#[tokio::test]
async fn a_link_started_by_an_operator_is_refused_if_its_user_became_admin_meanwhile() {
    let world = World::start(None, &[]).await;
    let (_, _, admin) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    let admin = Actor::staff(&admin.unwrap());
    let (operator_id, ..) = signed_in(world.sign_in(Provider::Wechat).await.unwrap());
    world.core.staff_set_role(operator_id, Some(Role::Operator), &admin).await.unwrap();
    let operator = staff_actor(operator_id, Role::Operator);
    let (viewer_id, ..) = signed_in(world.sign_in(Provider::Dingtalk).await.unwrap());
    world.core.staff_set_role(viewer_id, Some(Role::Viewer), &admin).await.unwrap();
    let auth = world.core.link_start(viewer_id, ProviderKey::Qq, &operator, BINDING).await.unwrap();
    world.core.staff_set_role(viewer_id, Some(Role::Admin), &admin).await.unwrap();
    let redirect = follow_to_redirect(&auth.url, &world.fake(Provider::Qq).config().redirect_uri).await;
    let e = world.core.oauth_callback(ProviderKey::Qq, Callback::from_url(&redirect), BINDING).await.unwrap_err();
    assert_eq!(code_of(e), "forbidden");
    assert_eq!(world.core.user_get(viewer_id).await.unwrap().links.len(), 1, "nothing was linked");
    world.core.shutdown().await;
}

/// A SQLite database named by the configuration (not the embedded default): shared.
fn explicit_sqlite(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("shared.db").display())
}

async fn first_sign_in_has_no_role_until_the_first_admin_is_granted(database_url: String) {
    let world = World::start(Some(database_url), &[]).await;
    let (first, new_user, staff) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    assert!(new_user);
    assert_eq!(staff, None, "the first sign-in on a shared database is nobody's admin");
    assert_eq!(world.core.user_get(first).await.unwrap().role, None);
    let (second, _, staff) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    assert_eq!(staff, None);
    // Unknown identities are named as such.
    let unknown = GrantTarget::Identity { provider: ProviderKey::Weibo, uid: "no-such-uid".into() };
    let e = grant_admin(world.core.config(), &unknown).await.unwrap_err();
    assert_eq!((e.code().as_str(), e.params()["provider"].as_str()), ("identity_unknown", "weibo"));
    // `opsdeckd staff grant-admin --provider weibo --uid …`.
    let uid = world.fake(Provider::Weibo).config().users[0].uid.clone();
    let target = GrantTarget::Identity { provider: ProviderKey::Weibo, uid };
    let granted = grant_admin(world.core.config(), &target).await.unwrap();
    assert_eq!((granted.user_id, granted.previous), (first, None));
    let (again, _, staff) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    assert_eq!((again, staff.map(|s| s.role)), (first, Some(Role::Admin)));
    assert_eq!(signed_in(world.sign_in(Provider::Qq).await.unwrap()).2, None, "others still wait for a role");
    assert_eq!(world.core.user_get(second).await.unwrap().role, None);
    let admin = staff_actor(first, Role::Admin);
    let audit = world.core.audit_list(20, None, &admin).await.unwrap();
    assert!(
        audit.entries.iter().any(|e| e.action == "staff.set_role" && e.who == GRANT_ADMIN_ACTOR),
        "the grant is audited"
    );
    world.core.shutdown().await;
}

#[tokio::test]
async fn bootstrap_admin_names_the_first_admin_of_a_shared_database() {
    let dir = tempfile::tempdir().unwrap();
    let probe = World::start(None, &[]).await;
    let qq_uid = probe.fake(Provider::Qq).config().users[0].uid.clone();
    probe.core.shutdown().await;
    let bootstrap = ("bootstrap_admin", toml_string(&format!("qq:{qq_uid}")));
    let world = World::start(Some(explicit_sqlite(&dir)), &[bootstrap]).await;
    // Anyone else first: no role (a shared database); then the named sign-in: admin.
    assert_eq!(signed_in(world.sign_in(Provider::Weibo).await.unwrap()).2, None);
    let (admin_id, _, staff) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    assert_eq!(staff.map(|s| s.role), Some(Role::Admin));
    // Only while there is no admin: demoted by another admin, it stays demoted.
    let (other, ..) = signed_in(world.sign_in(Provider::Wechat).await.unwrap());
    grant_admin_on(world.core.database(), &GrantTarget::User(other), &[]).await.unwrap();
    world.core.staff_set_role(admin_id, None, &staff_actor(other, Role::Admin)).await.unwrap();
    assert_eq!(signed_in(world.sign_in(Provider::Qq).await.unwrap()).2, None);
    world.core.shutdown().await;
}

#[tokio::test]
async fn a_fresh_shared_sqlite_database_gives_the_first_sign_in_no_role_until_grant_admin() {
    let dir = tempfile::tempdir().unwrap();
    first_sign_in_has_no_role_until_the_first_admin_is_granted(explicit_sqlite(&dir)).await;
}

#[tokio::test]
async fn a_fresh_mariadb_database_gives_the_first_sign_in_no_role_until_grant_admin() {
    first_sign_in_has_no_role_until_the_first_admin_is_granted(fresh_mysql_url().await).await;
}

/// Two admins demote each other at the same moment, round after round: each time exactly one
/// succeeds and one admin is left (without the staff lock, MariaDB's snapshot reads let both
/// through and leave none).
async fn admins_demoting_each_other(database_url: String) {
    let world = World::start(Some(database_url), &[]).await;
    let (a, ..) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    let (b, ..) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    let db = world.core.database();
    for round in 0..12 {
        grant_admin_on(db, &GrantTarget::User(a), &[]).await.unwrap();
        grant_admin_on(db, &GrantTarget::User(b), &[]).await.unwrap();
        let demote = |target: i64, by: i64| {
            let core = world.core.clone();
            tokio::spawn(
                async move { core.staff_set_role(target, Some(Role::Viewer), &staff_actor(by, Role::Admin)).await },
            )
        };
        let (by_a, by_b) = (demote(b, a), demote(a, b));
        let (by_a, by_b) = (by_a.await.unwrap(), by_b.await.unwrap());
        assert_eq!(
            [&by_a, &by_b].iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: exactly one demotion succeeds: {:?} / {:?}",
            by_a.as_ref().map(|u| u.role),
            by_b.as_ref().map(|u| u.role)
        );
        let admins: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetch_one(db.pool()).await.unwrap();
        assert_eq!(admins, 1, "round {round}: one admin is left");
    }
    world.core.shutdown().await;
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin_on_mariadb() {
    admins_demoting_each_other(fresh_mysql_url().await).await;
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    admins_demoting_each_other(explicit_sqlite(&dir)).await;
}

#[tokio::test]
async fn a_callback_bound_to_another_window_is_refused_and_that_attempt_stays_usable() {
    let world = World::start(None, &[]).await;
    let key = key_of(Provider::Weibo);
    let theirs = "someone-elses-window-0002";
    let auth = world.core.oauth_authorize(key, Purpose::Console, theirs).await.unwrap();
    let redirect = follow_to_redirect(&auth.url, &world.fake(Provider::Weibo).config().redirect_uri).await;
    let planted = Callback::from_url(&redirect);
    // Finished in this window (another binding): refused, nobody signed in...
    let e = world.core.oauth_callback(key, planted.clone(), BINDING).await.unwrap_err();
    let body = ErrorBody::from(e);
    assert_eq!(body.field.as_deref(), Some("state"));
    assert!(body.message.contains("started elsewhere"), "{}", body.message);
    let e = world.core.shop_oauth_callback(key, planted.clone(), BINDING).await.unwrap_err();
    assert_eq!(ErrorBody::from(e).field.as_deref(), Some("state"));
    // ... and the attempt is still good where it was started.
    let (user, new_user, _) = signed_in(world.core.oauth_callback(key, planted, theirs).await.unwrap());
    assert!(new_user && user > 0);
    // A binding too short to be secret is refused at both ends.
    for binding in ["", "short"] {
        let e = world.core.oauth_authorize(key, Purpose::Shop, binding).await.unwrap_err();
        assert_eq!(ErrorBody::from(e).field.as_deref(), Some("binding"));
    }
    world.core.shutdown().await;
}

#[tokio::test]
async fn an_unverified_oidc_phone_number_makes_no_link_request() {
    let _ = oidc_issuer();
    let world = World::start(None, &[("staff_default_role", toml_string("viewer"))]).await;
    let (existing, ..) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    // The number the test provider gives alice (verified) and bob (not verified).
    set_mobile(&world.core, existing, Some("+8613800000001")).await;
    let admin = staff_actor(existing, Role::Admin);

    let auth = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let redirect = oidc_login(&auth.url, "bob").await;
    let outcome = world.core.oauth_callback(ProviderKey::Oidc, Callback::from_url(&redirect), BINDING).await.unwrap();
    let (bob, new_user, _) = signed_in(outcome);
    assert!(new_user && bob != existing, "bob's unverified number matched nobody");
    assert!(world.core.link_requests_list(&admin).await.unwrap().is_empty(), "no link request");
    assert_eq!(world.core.user_get(bob).await.unwrap().mobile_masked, None, "the number was not kept");

    let auth = world.core.oauth_authorize(ProviderKey::Oidc, Purpose::Console, BINDING).await.unwrap();
    let redirect = oidc_login(&auth.url, "alice").await;
    match world.core.oauth_callback(ProviderKey::Oidc, Callback::from_url(&redirect), BINDING).await.unwrap() {
        SignInOutcome::PendingLink { request } => {
            assert_eq!(request.user_id, existing);
            assert_eq!(request.verified, vec!["mobile".to_string(), "email".to_string()]);
        }
        other => panic!("alice's verified number waits for staff: {other:?}"),
    }
    world.core.shutdown().await;
}

#[tokio::test]
async fn with_a_staff_allow_list_only_listed_sign_ins_open_the_console() {
    let probe = World::start(None, &[]).await;
    let weibo_uid = probe.fake(Provider::Weibo).config().users[0].uid.clone();
    probe.core.shutdown().await;
    let allow = format!("weibo:{weibo_uid}, oidc:someone-else");
    let world =
        World::start(None, &[("staff_allow", toml_string(&allow)), ("staff_default_role", toml_string("viewer"))])
            .await;
    // A sign-in not on the list first: it takes neither the first-admin place nor the default role.
    let (qq_user, _, staff) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    assert_eq!(staff, None, "not on the list: no console");
    assert_eq!(world.core.user_get(qq_user).await.unwrap().role, None);
    let (admin_id, _, staff) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    assert_eq!(staff.map(|s| s.role), Some(Role::Admin), "the first listed sign-in on one's own database");
    let admin = staff_actor(admin_id, Role::Admin);
    // An admin cannot make an unlisted user staff, nor can the command line.
    let e = world.core.staff_set_role(qq_user, Some(Role::Operator), &admin).await.unwrap_err();
    assert!(e.code() == "staff_not_allowed" && e.to_string().contains("allow-list"), "{e}");
    let e = grant_admin(world.core.config(), &GrantTarget::User(qq_user)).await.unwrap_err();
    assert!(e.code() == "staff_not_allowed" && e.to_string().contains("allow-list"), "{e}");
    assert_eq!(world.core.user_get(qq_user).await.unwrap().role, None);
    world.core.shutdown().await;
}

#[tokio::test]
async fn a_qq_token_issued_to_another_app_signs_nobody_in() {
    let world = World::start(None, &[]).await;
    world.fake(Provider::Qq).answer_me_client_id(Some("another-app-101"));
    let e = world.sign_in(Provider::Qq).await.unwrap_err();
    assert!(e.code() == "sign_in_refused" && e.to_string().contains("client_id_mismatch"), "{e}");
    let users: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(world.core.database().pool()).await.unwrap();
    assert_eq!(users, 0, "nobody was created");
    world.fake(Provider::Qq).answer_me_client_id(None);
    assert!(world.sign_in(Provider::Qq).await.is_ok(), "the app's own token signs in");
    world.core.shutdown().await;
}
