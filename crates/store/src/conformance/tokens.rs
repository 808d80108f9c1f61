//! The [`TokenStore`] suite: what every token backend must do, identically.
//!
//! Each case takes a fresh, empty token store and panics with a message
//! saying what broke. Run them with one line, one `#[test]` per case:
//!
//! ```no_run
//! mod sqlite_tokens {
//!     candor_store::token_conformance_tests!(|| -> Box<dyn candor_store::TokenStore> {
//!         Box::new(candor_store::sqlite::SqliteTokens::open_in_memory().expect("open"))
//!     });
//! }
//! ```
//!
//! or all in one test with [`run`]. That two handles share one store is a
//! case of the configuration suite
//! ([`super::tokens_are_shared_between_handles`]).

use crate::tokens::{TokenError, TokenRecord, TokenStore};

/// A case of the token suite: gets a fresh, empty token store.
pub type Case = fn(&dyn TokenStore);

/// Every token case, by name, in the order [`run`] runs them.
pub const CASES: &[(&str, Case)] = &[
    ("tokens_start_empty", tokens_start_empty),
    ("create_list_revoke", create_list_revoke),
    ("records_round_trip", records_round_trip),
];

/// Runs every token case, each on a fresh token store from `make`, printing
/// each case's name before it runs.
pub fn run(make: &mut dyn FnMut() -> Box<dyn TokenStore>) {
    for (name, case) in CASES {
        eprintln!("candor-store token conformance: {name}");
        let store = make();
        case(&*store);
    }
}

/// Generates one `#[test]` per token conformance case (plus one checking
/// that the list is complete) in the current module, each on a fresh token
/// store from the given factory, an expression of type
/// `impl FnMut() -> Box<dyn TokenStore>`. See [`conformance::tokens`](crate::conformance::tokens).
///
/// With `optional:`, the factory returns `Option<Box<dyn TokenStore>>`,
/// and a case whose factory returns `None` (its server is absent) returns
/// without running.
#[macro_export]
macro_rules! token_conformance_tests {
    (optional: $make:expr) => {
        $crate::token_conformance_tests!(@cases $make;
            tokens_start_empty,
            create_list_revoke,
            records_round_trip,
        );
    };
    ($make:expr) => {
        $crate::token_conformance_tests!(optional: {
            let mut make = $make;
            move || -> ::std::option::Option<::std::boxed::Box<dyn $crate::TokenStore>> {
                ::std::option::Option::Some(make())
            }
        });
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                let mut make = $make;
                let store: ::std::option::Option<::std::boxed::Box<dyn $crate::TokenStore>> =
                    make();
                let ::std::option::Option::Some(store) = store else {
                    return;
                };
                $crate::conformance::tokens::$case(&*store);
            }
        )+

        #[test]
        fn token_conformance_list_is_complete() {
            let generated: &[&str] = &[$(stringify!($case)),+];
            let all: ::std::vec::Vec<&str> =
                $crate::conformance::tokens::CASES.iter().map(|(name, _)| *name).collect();
            assert_eq!(
                generated,
                all.as_slice(),
                "token_conformance_tests! and conformance::tokens::CASES list different cases"
            );
        }
    };
}

/// An analyst token record named `name` whose hash is `hash` repeated
/// (also the backends' own unit tests' fixture).
pub(crate) fn token(name: &str, hash: u8) -> TokenRecord {
    TokenRecord {
        name: name.into(),
        role: "analyst".into(),
        regions: vec!["eu".into()],
        purposes: vec!["usage".into(), "diagnostics".into()],
        hash: [hash; 32],
        created_at: 10,
        revoked_at: None,
    }
}

/// A new token store lists nothing, finds nothing, revokes nothing.
pub fn tokens_start_empty(store: &dyn TokenStore) {
    assert_eq!(store.list().expect("list"), [], "a new store has no tokens");
    assert_eq!(store.active().expect("active"), []);
    assert_eq!(store.get("ana").expect("get"), None);
    assert!(
        matches!(store.revoke("ana", 1), Err(TokenError::NotFound(_))),
        "revoking an unknown token is NotFound"
    );
}

/// Names are unique forever (a revoked name is not reused, so the audit
/// log's actors stay unambiguous); a revoked token is listed but not
/// active; revoking twice is `NotFound`.
pub fn create_list_revoke(store: &dyn TokenStore) {
    store.create(&token("ana", 1)).expect("create ana");
    store.create(&token("bo", 2)).expect("create bo");
    assert!(
        matches!(
            store.create(&token("ana", 3)),
            Err(TokenError::NameTaken(_))
        ),
        "a second token named ana must be NameTaken"
    );
    store.revoke("ana", 20).expect("revoke ana");
    assert!(
        matches!(store.revoke("ana", 21), Err(TokenError::NotFound(_))),
        "ana is no longer active"
    );
    let all = store.list().expect("list");
    assert_eq!(all.len(), 2, "revoked tokens are listed: {all:?}");
    assert_eq!(
        all[0].revoked_at,
        Some(20),
        "the first revocation time stays"
    );
    assert_eq!(all[1], token("bo", 2));
    assert_eq!(store.active().expect("active"), [token("bo", 2)]);
    assert_eq!(
        store.get("ana").expect("get").map(|t| t.revoked_at),
        Some(Some(20)),
        "get finds revoked tokens too"
    );
    assert!(
        matches!(
            store.create(&token("ana", 4)),
            Err(TokenError::NameTaken(_))
        ),
        "a revoked name is not reused"
    );
    assert_eq!(store.list().expect("list").len(), 2);
}

/// Every field reads back as written (empty scopes mean "all" and stay
/// empty), and tokens are listed by name.
pub fn records_round_trip(store: &dyn TokenStore) {
    let mut hash = [0u8; 32];
    for (i, b) in hash.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37);
    }
    let admin = TokenRecord {
        name: "zed.admin-1".into(),
        role: "admin".into(),
        regions: vec![],
        purposes: vec![],
        hash,
        created_at: 1_800_000_000,
        revoked_at: None,
    };
    let wide = TokenRecord {
        name: "adam_2".into(),
        role: "analyst".into(),
        regions: vec!["eu".into(), "us-west".into(), "in".into()],
        purposes: vec!["usage".into()],
        hash: [0xff; 32],
        created_at: 0,
        revoked_at: None,
    };
    let mid = token("mia", 9);
    for t in [&admin, &wide, &mid] {
        store.create(t).expect("create");
    }
    assert_eq!(
        store.list().expect("list"),
        [wide.clone(), mid.clone(), admin.clone()],
        "listed by name, every field as written"
    );
    assert_eq!(store.get("zed.admin-1").expect("get"), Some(admin));
    assert_eq!(store.get("adam_2").expect("get"), Some(wide));
    assert_eq!(store.get("mi").expect("get"), None, "names match exactly");
}
