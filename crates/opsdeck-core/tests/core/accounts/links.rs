//! Users' links and roles: linking and unlinking with console roles, a matching mobile waiting
//! for staff to confirm the link, and the same on MariaDB.

use opsdeck_core::accounts::bootstrap::{GrantTarget, grant_admin_on};
use opsdeck_core::accounts::model::{ProviderKey, Role, SignInOutcome, Staff, UserQuery};
use opsdeck_core::accounts::{Actor, Callback};
use opsdeck_sandbox::oauth::Provider;

use crate::helpers::{fresh_mysql_url, toml_string};

use super::{BINDING, World, code_of, follow_to_redirect, signed_in};

#[tokio::test]
async fn linking_unlinking_and_roles() {
    let world = World::start(None, &[("staff_default_role", toml_string("viewer"))]).await;
    let (admin_id, _, admin) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    let admin = Actor::staff(&admin.unwrap());
    assert_eq!(admin.role(), Role::Admin);
    // Link QQ to the admin's user: staff start it, the provider redirects, the core links.
    let auth = world.core.link_start(admin_id, ProviderKey::Qq, &admin, BINDING).await.unwrap();
    let redirect = follow_to_redirect(&auth.url, &world.fake(Provider::Qq).config().redirect_uri).await;
    match world.core.oauth_callback(ProviderKey::Qq, Callback::from_url(&redirect), BINDING).await.unwrap() {
        SignInOutcome::Linked { user } => assert_eq!(user.links.len(), 2),
        other => panic!("expected a link, got {other:?}"),
    }
    // Signing in with QQ now reaches the same user.
    assert_eq!(signed_in(world.sign_in(Provider::Qq).await.unwrap()).0, admin_id);
    // A second staff member: a viewer by the configured default.
    let (viewer_id, _, viewer) = signed_in(world.sign_in(Provider::Wechat).await.unwrap());
    let viewer = Actor::staff(&viewer.unwrap());
    assert_eq!(viewer.role(), Role::Viewer);
    // The WeChat identity cannot be linked to the admin as well: it belongs to the viewer.
    let auth = world.core.link_start(admin_id, ProviderKey::Wechat, &admin, BINDING).await.unwrap();
    let redirect = follow_to_redirect(&auth.url, &world.fake(Provider::Wechat).config().redirect_uri).await;
    let e = world.core.oauth_callback(ProviderKey::Wechat, Callback::from_url(&redirect), BINDING).await.unwrap_err();
    assert!(e.to_string().contains("already linked"), "{e}");
    // Viewers cannot unlink, change roles, or act anywhere else.
    let admin_user = world.core.user_get(admin_id).await.unwrap();
    let qq_link = admin_user.links.iter().find(|l| l.provider == ProviderKey::Qq).unwrap().id;
    assert_eq!(code_of(world.core.unlink(qq_link, &viewer).await.unwrap_err()), "forbidden");
    assert_eq!(
        code_of(world.core.staff_set_role(viewer_id, Some(Role::Admin), &viewer).await.unwrap_err()),
        "forbidden"
    );
    let e = world.core.order_cancel("NO-SUCH", "because", &viewer).await.unwrap_err();
    assert!(e.code() == "forbidden" && e.to_string().contains("viewer cannot cancel orders"), "{e}");
    assert_eq!(e.params().get("action").map(String::as_str), Some("cancel_orders"), "{e}");
    assert_eq!(code_of(world.core.ocr_purge_dead(&viewer).await.unwrap_err()), "forbidden");
    // Unlink QQ; the last link (Weibo) stays.
    let user = world.core.unlink(qq_link, &admin).await.unwrap();
    assert_eq!(user.links.len(), 1);
    let last = user.links[0].id;
    let e = world.core.unlink(last, &admin).await.unwrap_err();
    assert!(e.to_string().contains("last sign-in method"), "{e}");
    assert_eq!(e.code(), "link_last");
    // Roles: the last admin cannot step down; an operator made by the admin can act.
    assert_eq!(
        code_of(world.core.staff_set_role(admin_id, Some(Role::Viewer), &admin).await.unwrap_err()),
        "last_admin"
    );
    world.core.staff_set_role(viewer_id, Some(Role::Operator), &admin).await.unwrap();
    let viewer_staff = Staff {
        user_id: viewer_id,
        name: "x".into(),
        role: Role::Viewer,
        provider: ProviderKey::Wechat,
        avatar: None,
        signed_in_at: chrono::Utc::now(),
    };
    assert_eq!(world.core.staff_actor(&viewer_staff).await.unwrap().role(), Role::Operator, "roles apply at once");
    world.core.staff_set_role(viewer_id, None, &admin).await.unwrap();
    assert_eq!(code_of(world.core.staff_actor(&viewer_staff).await.unwrap_err()), "forbidden");
    // Every action named its actor in the audit log.
    let audit = world.core.audit_list(100, None, &Actor::system("tester")).await.unwrap();
    let actions: Vec<(&str, &str)> = audit.entries.iter().map(|e| (e.action.as_str(), e.who.as_str())).collect();
    assert!(actions.contains(&("account.unlink", admin.name())), "{actions:?}");
    assert!(actions.iter().filter(|(a, _)| *a == "staff.set_role").count() >= 2);
    assert!(actions.iter().any(|(a, _)| *a == "staff.sign_in"));
    world.core.shutdown().await;
}

#[tokio::test]
async fn a_matching_mobile_waits_for_staff_to_confirm_the_link() {
    let world = World::start(None, &[]).await;
    let (admin_id, _, admin) = signed_in(world.sign_in(Provider::Weibo).await.unwrap());
    let admin = Actor::staff(&admin.unwrap());
    let mobile = world.fake(Provider::Dingtalk).config().users[0].mobile.clone().unwrap();
    sqlx::query("UPDATE users SET mobile = ? WHERE id = ?")
        .bind(mobile.clone())
        .bind(admin_id)
        .execute(world.core.database().pool())
        .await
        .unwrap();
    let request = match world.sign_in(Provider::Dingtalk).await.unwrap() {
        SignInOutcome::PendingLink { request } => request,
        other => panic!("expected a pending link, got {other:?}"),
    };
    assert_eq!(request.user_id, admin_id);
    assert_eq!(request.mobile_masked, format!("{}****{}", &mobile[..3], &mobile[7..]));
    assert_eq!(world.core.link_requests_list(&Actor::system("tester")).await.unwrap().len(), 1);
    let user = world.core.link_request_resolve(request.id, true, &admin).await.unwrap().unwrap();
    assert!(user.links.iter().any(|l| l.provider == ProviderKey::Dingtalk));
    assert!(world.core.link_requests_list(&Actor::system("tester")).await.unwrap().is_empty());
    assert_eq!(signed_in(world.sign_in(Provider::Dingtalk).await.unwrap()).0, admin_id);
    // Search by mobile: the whole number finds the user, a prefix of it nobody (a prefix search
    // would reveal a masked number digit by digit).
    let search = |text: &str| {
        let query = UserQuery { search: Some(text.to_string()), offset: 0, limit: 10, ..Default::default() };
        let core = world.core.clone();
        async move { core.users_list(query, &Actor::system("tester")).await.unwrap() }
    };
    assert_eq!(search(&mobile).await.users.iter().map(|u| u.id).collect::<Vec<_>>(), vec![admin_id]);
    for prefix in [&mobile[..3], &mobile[..7], &mobile[..10]] {
        assert_eq!(search(prefix).await.total, 0, "a prefix of the mobile ({prefix}) finds nobody");
    }
    world.core.shutdown().await;
}

#[tokio::test]
async fn sign_in_and_links_on_mariadb() {
    let world = World::start(Some(fresh_mysql_url().await), &[]).await;
    // A shared database: the first sign-in gets no role until the first admin is granted.
    let (id, new_user, staff) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    assert!(new_user && staff.is_none());
    grant_admin_on(world.core.database(), &GrantTarget::User(id), &[]).await.unwrap();
    let (again, _, staff) = signed_in(world.sign_in(Provider::Qq).await.unwrap());
    assert_eq!((again, staff.map(|s| s.role)), (id, Some(Role::Admin)));
    let (other, ..) = signed_in(world.sign_in(Provider::Dingtalk).await.unwrap());
    assert_ne!(other, id);
    let page =
        world.core.users_list(UserQuery { limit: 1, ..UserQuery::default() }, &Actor::system("tester")).await.unwrap();
    assert_eq!((page.total, page.users.len()), (2, 1));
    world.core.shutdown().await;
}
