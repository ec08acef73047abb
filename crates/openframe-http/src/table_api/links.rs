//! The `Link` header of a Table API page: first, prev, next and last, bounded in length.

use openframe_core::query::TableQuery;
use openframe_core::schema::Table;

use super::params::{Params, encode};

/// The longest `Link` header written: proxies and HTTP clients refuse longer header lines (nginx's default
/// buffers are 4-8 KiB; Python's http.client stops at 64 KiB).
pub(crate) const MAX_LINK_BYTES: usize = 8 * 1024;

/// The `Link` header: first, prev (when there is one), next (when there is one), last (when the total is
/// known; without it, a full page is taken to have a next); each repeats the query. Kept under [`MAX_LINK_BYTES`] by leaving out prev, then first, then last, and at worst next too
/// (`None`: no header).
pub(super) fn link_header(
    base: &str,
    table: &Table,
    params: &Params,
    query: &TableQuery,
    total: Option<u64>,
    page_is_full: bool,
) -> Option<String> {
    let limit = query.limit;
    let url = |offset: usize| {
        let mut q: Vec<String> = params
            .0
            .iter()
            .filter(|(k, _)| k != "sysparm_offset" && k != "sysparm_limit")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        q.push(format!("sysparm_limit={limit}"));
        q.push(format!("sysparm_offset={offset}"));
        format!("<{base}/api/now/table/{}?{}>", table.name, q.join("&"))
    };
    let total = total.map(|t| usize::try_from(t).unwrap_or(usize::MAX));
    // The last page's offset, when the total is known.
    let last = total.map(|total| {
        if total == 0 {
            0
        } else {
            (total - 1) / limit * limit
        }
    });
    let prev = (query.offset > 0).then(|| query.offset.saturating_sub(limit));
    let has_next = match total {
        Some(total) => query.offset + limit < total,
        None => page_is_full,
    };
    let next = has_next.then_some(query.offset + limit);
    // In header order, each with its rank to stay: prev goes first, then first, then last; next last of all.
    let mut kept: Vec<(String, u8)> = [
        ("first", Some(0), 1),
        ("prev", prev, 0),
        ("next", next, 3),
        ("last", last, 2),
    ]
    .into_iter()
    .filter_map(|(rel, offset, rank)| offset.map(|o| (format!("{};rel=\"{rel}\"", url(o)), rank)))
    .collect();
    let length = |kept: &[(String, u8)]| kept.iter().map(|(l, _)| l.len() + 1).sum::<usize>();
    while length(&kept) > MAX_LINK_BYTES + 1 {
        let drop = kept
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, rank))| *rank)
            .map(|(i, _)| i)?;
        kept.remove(drop);
    }
    if kept.is_empty() {
        return None;
    }
    Some(
        kept.into_iter()
            .map(|(link, _)| link)
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use openframe_core::schema;

    #[test]
    fn links_page_through_the_total() {
        let params = Params(vec![("sysparm_query".into(), "state=new".into())]);
        let mut q = TableQuery::all(&schema::INTERACTION);
        q.limit = 10;
        q.offset = 10;
        let link = link_header(
            "http://h",
            &schema::INTERACTION,
            &params,
            &q,
            Some(25),
            true,
        )
        .unwrap();
        assert!(link.contains("sysparm_offset=0>;rel=\"first\""), "{link}");
        assert!(link.contains("sysparm_offset=0>;rel=\"prev\""), "{link}");
        assert!(link.contains("sysparm_offset=20>;rel=\"next\""), "{link}");
        assert!(link.contains("sysparm_offset=20>;rel=\"last\""), "{link}");
        assert!(link.contains("sysparm_query=state%3Dnew"), "{link}");
        q.offset = 20;
        let link = link_header(
            "http://h",
            &schema::INTERACTION,
            &params,
            &q,
            Some(25),
            true,
        )
        .unwrap();
        assert!(!link.contains("rel=\"next\""), "{link}");
    }

    #[test]
    fn links_stay_under_the_bound_dropping_the_least_needed_first() {
        let mut q = TableQuery::all(&schema::INTERACTION);
        q.limit = 10;
        q.offset = 10;
        let rels = |query_len: usize| {
            let params = Params(vec![("sysparm_query".into(), "a".repeat(query_len))]);
            link_header(
                "http://h",
                &schema::INTERACTION,
                &params,
                &q,
                Some(25),
                true,
            )
            .map(|link| {
                assert!(link.len() <= MAX_LINK_BYTES, "{}", link.len());
                link.split(',')
                    .map(|l| {
                        l.rsplit_once("rel=")
                            .unwrap()
                            .1
                            .trim_matches('"')
                            .to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(rels(100).unwrap(), ["first", "prev", "next", "last"]);
        assert_eq!(rels(2_500).unwrap(), ["first", "next", "last"]);
        assert_eq!(rels(3_000).unwrap(), ["next", "last"]);
        assert_eq!(rels(5_000).unwrap(), ["next"]);
        assert_eq!(rels(9_000), None);
    }
}
