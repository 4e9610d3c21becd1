//! `policy_check.json`: the decisions of a key's policy (revocation, expiry, IP
//! allowlists, roles, read-only methods, scopes).

use crate::file::{File, GEN, Want};
use crate::fixtures::NOW;
use serde_json::{Value, json};

pub(crate) fn policies() -> File {
    let mut f = File::new(
        "policy_check",
        "Policy decisions: revoked, disabled, expiry, IPv4/IPv6 CIDR allowlists, roles, read-only methods, scopes with trailing-* wildcards.",
    );
    let ctx = |v: Value| {
        let mut base = json!({"now": NOW, "client_ip": null, "method": "GET", "required_scopes": [], "allowed_roles": []});
        for (k, x) in v.as_object().unwrap() {
            base[k] = x.clone();
        }
        base
    };
    let mut case = |id: &str, policy: Value, c: Value, want: Want| {
        f.case(id, GEN, json!({"policy": policy, "context": ctx(c)}), want);
    };
    case(
        "default_allows",
        json!({}),
        json!({}),
        Want::Exactly(json!(true)),
    );
    case(
        "revoked",
        json!({"revoked": true, "enabled": false}),
        json!({}),
        Want::Err("key_revoked"),
    );
    case(
        "disabled",
        json!({"enabled": false}),
        json!({}),
        Want::Err("key_disabled"),
    );
    case(
        "expires_one_second_later",
        json!({"expires_at": NOW + 1}),
        json!({}),
        Want::Ok,
    );
    case(
        "expires_now",
        json!({"expires_at": NOW}),
        json!({}),
        Want::Err("key_expired"),
    );
    case(
        "never_expires",
        json!({"expires_at": null}),
        json!({"now": i64::MAX}),
        Want::Ok,
    );
    let v4 = json!({"allowed_ips": ["10.0.0.0/8", "192.168.1.0/24", "203.0.113.7", "0.0.0.0/32"]});
    case(
        "ipv4_cidr_low_edge",
        v4.clone(),
        json!({"client_ip": "10.0.0.0"}),
        Want::Ok,
    );
    case(
        "ipv4_cidr_high_edge",
        v4.clone(),
        json!({"client_ip": "10.255.255.255"}),
        Want::Ok,
    );
    case(
        "ipv4_cidr_just_outside",
        v4.clone(),
        json!({"client_ip": "11.0.0.0"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_24_high_edge",
        v4.clone(),
        json!({"client_ip": "192.168.1.255"}),
        Want::Ok,
    );
    case(
        "ipv4_24_just_outside",
        v4.clone(),
        json!({"client_ip": "192.168.2.0"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_single_address",
        v4.clone(),
        json!({"client_ip": "203.0.113.7"}),
        Want::Ok,
    );
    case(
        "ipv4_single_address_neighbour",
        v4.clone(),
        json!({"client_ip": "203.0.113.8"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_mapped_ipv6_client",
        v4.clone(),
        json!({"client_ip": "::ffff:10.1.2.3"}),
        Want::Ok,
    );
    case(
        "ipv6_client_ipv4_list",
        v4.clone(),
        json!({"client_ip": "2001:db8::1"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "allowlist_without_client_ip",
        v4.clone(),
        json!({"client_ip": null}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_slash_0",
        json!({"allowed_ips": ["0.0.0.0/0"]}),
        json!({"client_ip": "198.51.100.1"}),
        Want::Ok,
    );
    let v6 = json!({"allowed_ips": ["2001:db8::/32", "::1", "fe80::/10"]});
    case(
        "ipv6_cidr_low_edge",
        v6.clone(),
        json!({"client_ip": "2001:db8::"}),
        Want::Ok,
    );
    case(
        "ipv6_cidr_high_edge",
        v6.clone(),
        json!({"client_ip": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}),
        Want::Ok,
    );
    case(
        "ipv6_cidr_just_outside",
        v6.clone(),
        json!({"client_ip": "2001:db9::"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv6_single_address",
        v6.clone(),
        json!({"client_ip": "::1"}),
        Want::Ok,
    );
    case(
        "ipv6_10_edge",
        v6.clone(),
        json!({"client_ip": "febf:ffff::1"}),
        Want::Ok,
    );
    case(
        "ipv6_10_outside",
        v6.clone(),
        json!({"client_ip": "fec0::1"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_client_ipv6_list",
        v6.clone(),
        json!({"client_ip": "127.0.0.1"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv6_slash_0",
        json!({"allowed_ips": ["::/0"]}),
        json!({"client_ip": "2001:db8::5"}),
        Want::Ok,
    );
    for (id, cidr) in [
        ("cidr_host_bits_set", "10.0.0.1/8"),
        ("cidr_v4_prefix_33", "10.0.0.0/33"),
        ("cidr_v4_octet_300", "300.0.0.0/8"),
        ("cidr_v6_prefix_129", "2001:db8::/129"),
        ("cidr_v6_host_bits_set", "2001:db8::1/32"),
        ("cidr_empty_prefix", "10.0.0.0/"),
        ("cidr_negative_prefix", "10.0.0.0/-1"),
        ("cidr_text", "localhost"),
        ("cidr_empty", ""),
        ("cidr_with_spaces", " 10.0.0.0/8"),
    ] {
        case(
            id,
            json!({"allowed_ips": [cidr]}),
            json!({"client_ip": "10.0.0.1"}),
            Want::Err("invalid_cidr"),
        );
    }
    case(
        "client_ip_not_an_ip",
        v4.clone(),
        json!({"client_ip": "10.0.0"}),
        Want::Err("invalid_cidr"),
    );
    case(
        "read_only_get",
        json!({"read_only": true}),
        json!({"method": "GET"}),
        Want::Ok,
    );
    case(
        "read_only_head",
        json!({"read_only": true}),
        json!({"method": "HEAD"}),
        Want::Ok,
    );
    case(
        "read_only_options",
        json!({"read_only": true}),
        json!({"method": "OPTIONS"}),
        Want::Ok,
    );
    case(
        "read_only_post",
        json!({"read_only": true}),
        json!({"method": "POST"}),
        Want::Err("read_only_key"),
    );
    case(
        "read_only_delete",
        json!({"read_only": true}),
        json!({"method": "DELETE"}),
        Want::Err("read_only_key"),
    );
    case(
        "read_only_lowercase_get_is_not_get",
        json!({"read_only": true}),
        json!({"method": "get"}),
        Want::Err("read_only_key"),
    );
    case(
        "read_only_no_method",
        json!({"read_only": true}),
        json!({"method": null}),
        Want::Err("read_only_key"),
    );
    case(
        "read_write_post",
        json!({}),
        json!({"method": "POST"}),
        Want::Ok,
    );
    let scoped = json!({"scopes": ["keys:read", "billing:*", "reports/daily"]});
    case(
        "scope_exact",
        scoped.clone(),
        json!({"required_scopes": ["keys:read"]}),
        Want::Ok,
    );
    case(
        "scope_wildcard",
        scoped.clone(),
        json!({"required_scopes": ["billing:invoices:read"]}),
        Want::Ok,
    );
    case(
        "scope_all_required",
        scoped.clone(),
        json!({"required_scopes": ["keys:read", "billing:x", "reports/daily"]}),
        Want::Ok,
    );
    case(
        "scope_one_missing",
        scoped.clone(),
        json!({"required_scopes": ["keys:read", "keys:write"]}),
        Want::Err("insufficient_scope"),
    );
    case(
        "scope_wildcard_needs_separator",
        scoped.clone(),
        json!({"required_scopes": ["billingx"]}),
        Want::Err("insufficient_scope"),
    );
    case(
        "scope_no_prefix_match_without_star",
        scoped.clone(),
        json!({"required_scopes": ["keys:read:all"]}),
        Want::Err("insufficient_scope"),
    );
    case(
        "scope_star_grants_all",
        json!({"scopes": ["*"]}),
        json!({"required_scopes": ["anything:at/all"]}),
        Want::Ok,
    );
    case(
        "scope_none_granted",
        json!({}),
        json!({"required_scopes": ["keys:read"]}),
        Want::Err("insufficient_scope"),
    );
    for (id, s) in [
        ("scope_empty", ""),
        ("scope_with_space", "keys read"),
        ("scope_inner_star", "ke*ys"),
        ("scope_double_star", "keys:**"),
        ("scope_too_long", &"a".repeat(129)),
        ("scope_non_ascii", "clés"),
    ] {
        case(
            id,
            json!({"scopes": [s]}),
            json!({}),
            Want::Err("invalid_scope"),
        );
    }
    case(
        "role_allowed",
        json!({"role": "account-owner"}),
        json!({"allowed_roles": ["account-owner"]}),
        Want::Ok,
    );
    case(
        "role_not_allowed",
        json!({"role": "merchant-terminal"}),
        json!({"allowed_roles": ["account-owner"]}),
        Want::Err("role_not_allowed"),
    );
    case(
        "role_missing",
        json!({}),
        json!({"allowed_roles": ["account-owner"]}),
        Want::Err("role_not_allowed"),
    );
    case(
        "role_any",
        json!({"role": "merchant-terminal"}),
        json!({}),
        Want::Ok,
    );
    let full = json!({
        "role": "merchant-terminal", "read_only": true, "expires_at": NOW + 86400,
        "scopes": ["keys:read", "keys:list", "billing:*", "reports:read", "users:read", "audit:read"],
        "allowed_ips": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "2001:db8::/32"],
    });
    case(
        "full_record_allowed",
        full.clone(),
        json!({"client_ip": "2001:db8::42", "method": "GET", "required_scopes": ["billing:read", "audit:read"], "allowed_roles": ["merchant-terminal"]}),
        Want::Ok,
    );
    case(
        "full_record_order_ip_before_read_only",
        full.clone(),
        json!({"client_ip": "8.8.8.8", "method": "POST", "required_scopes": ["nope"]}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "full_record_order_read_only_before_scope",
        full,
        json!({"client_ip": "10.1.1.1", "method": "POST", "required_scopes": ["nope"]}),
        Want::Err("read_only_key"),
    );
    f
}
