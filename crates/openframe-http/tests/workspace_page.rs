//! The workspace page through the real router: served without credentials, every file it references served
//! with the right type, and a strict Content-Security-Policy that its markup actually obeys.

use axum::http::{Method, StatusCode, header};
use openframe_testkit::TestApp;

/// A browser's Accept for a page, a module and a stylesheet.
const BROWSER_ACCEPTS: &[&str] = &[
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "*/*",
    "text/css,*/*;q=0.1",
    "text/html",
];

/// Every `/workspace/…` path named in `src="…"`/`href="…"` of the HTML, or imported by a module.
fn referenced_paths(text: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in text.match_indices(attribute) {
            let rest = &text[start + attribute.len()..];
            if let Some(end) = rest.find('"') {
                paths.push(rest[..end].to_owned());
            }
        }
    }
    for (start, _) in text.match_indices("from './") {
        let rest = &text[start + "from './".len()..];
        if let Some(end) = rest.find('\'') {
            paths.push(format!("/workspace/{}", &rest[..end]));
        }
    }
    paths
}

fn content_type_for(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "text/html; charset=utf-8",
    }
}

#[tokio::test]
async fn the_page_and_everything_it_references_are_served_with_their_types_and_policy() {
    let app = TestApp::sqlite().await;
    let mut pending = vec!["/workspace".to_owned(), "/workspace/".to_owned()];
    let mut seen = Vec::new();
    while let Some(path) = pending.pop() {
        if seen.contains(&path) {
            continue;
        }
        for accept in BROWSER_ACCEPTS {
            // No Authorization header: the page holds no data.
            let reply = app
                .raw(Method::GET, &path, &[("accept", accept)], Vec::new())
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{path} (Accept {accept})");
            assert_eq!(
                reply.headers[header::CONTENT_TYPE],
                content_type_for(&path),
                "{path}"
            );
            let csp = reply.headers[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .expect("ascii CSP");
            for directive in [
                "default-src 'none'",
                "script-src 'self'",
                "style-src 'self'",
                "connect-src 'self'",
                "frame-ancestors 'none'",
            ] {
                assert!(csp.contains(directive), "{path}: {csp} lacks {directive}");
            }
            assert!(!csp.contains("unsafe"), "{path}: {csp}");
            assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            if accept == BROWSER_ACCEPTS.last().expect("accepts") {
                pending.extend(referenced_paths(&reply.text));
            }
        }
        seen.push(path);
    }
    // The page, its stylesheet, its icon and five modules, all found by following references.
    for file in [
        "workspace.css",
        "icon.svg",
        "app.js",
        "api.js",
        "sse.js",
        "view.js",
        "timeline.js",
    ] {
        assert!(
            seen.contains(&format!("/workspace/{file}")),
            "{file} not referenced: {seen:?}"
        );
    }
    let head = app
        .raw(Method::HEAD, "/workspace/app.js", &[], Vec::new())
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.text.is_empty());
}

#[tokio::test]
async fn the_markup_needs_nothing_the_policy_forbids() {
    let app = TestApp::sqlite().await;
    let html = app
        .raw(Method::GET, "/workspace", &[], Vec::new())
        .await
        .text;
    let lower = html.to_ascii_lowercase();
    // Every <script> has a src (no inline script), no inline style, no inline event handler, no remote URL.
    let scripts = lower.matches("<script").count();
    assert!(scripts >= 1);
    assert_eq!(
        scripts,
        lower
            .matches("<script type=\"module\" src=\"/workspace/")
            .count(),
        "{html}"
    );
    assert!(!lower.contains("<style"), "{html}");
    assert!(!lower.contains(" style=\""), "{html}");
    assert!(!lower.contains(" onclick="), "{html}");
    assert!(!lower.contains(" onload="), "{html}");
    assert!(!lower.contains("http://") && !lower.contains("https://"));
    for module in ["app.js", "api.js", "sse.js", "view.js", "timeline.js"] {
        let js = app
            .raw(
                Method::GET,
                &format!("/workspace/{module}"),
                &[],
                Vec::new(),
            )
            .await
            .text;
        // Only the SVG namespace URI may name another origin; nothing is fetched from one.
        let foreign = js.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !foreign.contains("http://") && !foreign.contains("https://"),
            "{module} names another origin"
        );
        assert!(
            !js.contains("localStorage") && !js.contains("sessionStorage"),
            "{module}: credentials stay in memory"
        );
        assert!(!js.contains("innerHTML"), "{module}: values go in as text");
    }
}

#[tokio::test]
async fn paths_beside_the_page_are_not_found() {
    let app = TestApp::sqlite().await;
    for path in [
        "/workspace/nope.js",
        "/workspace/assets/app.js",
        "/workspaces",
    ] {
        let reply = app.raw(Method::GET, path, &[], Vec::new()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.message(), "Not Found", "{path}");
    }
    let reply = app
        .raw(Method::POST, "/workspace", &[], b"x".to_vec())
        .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}
