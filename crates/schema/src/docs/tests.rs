//! Tests of the renderers' building blocks: bucket ranges in words and the
//! Markdown and HTML escaping.

use super::html::html_escape;
use super::markdown::{md_code, md_escape};
use super::words::ranges;

#[test]
fn bucket_ranges() {
    assert_eq!(
        ranges(&[10, 50, 51, 100]),
        ["up to 10", "11 to 50", "51", "52 to 100", "more than 100"]
    );
    assert_eq!(ranges(&[0, 1]), ["0", "1", "more than 1"]);
}

#[test]
fn escaping() {
    assert_eq!(
        html_escape("<a href=\"x\">&'"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
    );
    assert_eq!(
        md_escape("a|b *c* <d>\nnext "),
        "a\\|b \\*c\\* \\<d\\> next "
    );
    assert_eq!(md_code("a`b"), "``a`b``");
    assert_eq!(md_code("x|y"), "`x\\|y`");
}
