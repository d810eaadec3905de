//! Lays out a ts-rs declaration plainly: what fits in [`WIDTH`] columns stays on one line; a
//! longer union puts each member on its own `| …` line, and a longer object (or one with
//! documented fields) puts each field on its own line, its JSDoc above it.

const WIDTH: usize = 100;
const INDENT: &str = "  ";

/// A piece of a declaration: text, a JSDoc comment (its lines), or an object `{ … }`.
#[derive(Debug)]
enum Node {
    Text(String),
    Doc(Vec<String>),
    Object(Vec<Node>),
}

type Seq = Vec<Node>;

/// `export type X = …;` (as ts-rs writes it, on one line but for field docs) laid out.
pub fn declaration(text: &str) -> String {
    let mut chars = text.trim().chars().peekable();
    let nodes = parse(&mut chars);
    let body = nodes_without_semicolon(nodes);
    if let Some(line) = inline(&body).filter(|l| l.len() < WIDTH) {
        return format!("{line};");
    }
    // `export type X = A | B | …`: one member a line when the union is at the top level.
    let parts = split(body, '|');
    if parts.len() > 1 {
        let mut parts = parts.into_iter();
        let first = parts.next().unwrap();
        let (head, first_member) = split_head(first);
        let mut out = head;
        for member in std::iter::once(first_member).chain(parts) {
            out.push('\n');
            out.push_str(INDENT);
            out.push_str("| ");
            out.push_str(&block(&member, 1, INDENT.len() + 2));
        }
        out.push(';');
        return out;
    }
    let body = parts.into_iter().next().unwrap();
    format!("{};", block(&body, 0, 0))
}

fn parse(chars: &mut std::iter::Peekable<std::str::Chars>) -> Seq {
    let mut seq = Seq::new();
    let mut text = String::new();
    let flush = |text: &mut String, seq: &mut Seq| {
        if !text.is_empty() {
            seq.push(Node::Text(std::mem::take(text)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '}' => break,
            '{' => {
                flush(&mut text, &mut seq);
                seq.push(Node::Object(parse(chars)));
            }
            '/' if chars.peek() == Some(&'*') => {
                flush(&mut text, &mut seq);
                let mut comment = String::new();
                for c in chars.by_ref() {
                    comment.push(c);
                    if comment.ends_with("*/") {
                        break;
                    }
                }
                let lines = comment
                    .trim_start_matches("**")
                    .trim_end_matches("*/")
                    .lines()
                    .map(|l| l.trim().trim_start_matches('*').trim().to_string())
                    .skip_while(String::is_empty)
                    .collect::<Vec<_>>();
                let end = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
                seq.push(Node::Doc(lines[..end].to_vec()));
            }
            '"' => {
                text.push(c);
                for c in chars.by_ref() {
                    text.push(c);
                    if c == '"' {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => {
                if !text.ends_with(' ') {
                    text.push(' ');
                }
            }
            c => text.push(c),
        }
    }
    flush(&mut text, &mut seq);
    seq
}

fn nodes_without_semicolon(mut seq: Seq) -> Seq {
    if let Some(Node::Text(t)) = seq.last_mut() {
        let trimmed = t.trim_end().trim_end_matches(';').to_string();
        *t = trimmed;
    }
    seq
}

/// Splits a sequence at `sep` where it stands outside `<…>`, `(…)` and `[…]` (objects are
/// nodes of their own already).
fn split(seq: Seq, sep: char) -> Vec<Seq> {
    let mut parts = vec![Seq::new()];
    let mut depth = 0i32;
    for node in seq {
        let Node::Text(text) = node else {
            parts.last_mut().unwrap().push(node);
            continue;
        };
        let mut current = String::new();
        let mut in_string = false;
        for c in text.chars() {
            match c {
                '"' => in_string = !in_string,
                '<' | '(' | '[' if !in_string => depth += 1,
                '>' | ')' | ']' if !in_string => depth -= 1,
                _ => {}
            }
            if c == sep && depth == 0 && !in_string {
                if !current.trim().is_empty() {
                    parts.last_mut().unwrap().push(Node::Text(std::mem::take(&mut current)));
                }
                current.clear();
                parts.push(Seq::new());
            } else {
                current.push(c);
            }
        }
        if !current.trim().is_empty() {
            parts.last_mut().unwrap().push(Node::Text(current));
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// `export type X = A` → (`export type X =`, `A`).
fn split_head(mut first: Seq) -> (String, Seq) {
    let Some(Node::Text(text)) = first.first_mut() else { return (String::new(), first) };
    let at = text.find('=').map_or(0, |i| i + 1);
    let head = text[..at].trim().to_string();
    let rest = text[at..].to_string();
    if rest.trim().is_empty() {
        first.remove(0);
    } else {
        *text = rest;
    }
    (head, first)
}

/// The sequence on one line, or `None` when it holds a comment.
fn inline(seq: &[Node]) -> Option<String> {
    let mut out = String::new();
    for node in seq {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Doc(_) => return None,
            Node::Object(inner) => out.push_str(&inline_object(inner)?),
        }
    }
    Some(out.trim().to_string())
}

fn inline_object(inner: &[Node]) -> Option<String> {
    let fields = fields(inner);
    if fields.is_empty() {
        return Some("{}".into());
    }
    let fields: Option<Vec<String>> = fields.iter().map(|f| inline(f)).collect();
    Some(format!("{{ {} }}", fields?.join(", ")))
}

fn fields(inner: &[Node]) -> Vec<Seq> {
    let copy: Seq = inner.iter().map(clone_node).collect();
    split(copy, ',')
}

fn clone_node(node: &Node) -> Node {
    match node {
        Node::Text(t) => Node::Text(t.clone()),
        Node::Doc(d) => Node::Doc(d.clone()),
        Node::Object(inner) => Node::Object(inner.iter().map(clone_node).collect()),
    }
}

/// The sequence at nesting `level`, its first line starting at column `column`: on one line
/// when it fits, else with its objects one field a line.
fn block(seq: &[Node], level: usize, column: usize) -> String {
    if let Some(line) = inline(seq).filter(|l| column + l.len() < WIDTH) {
        return line;
    }
    let indent = INDENT.repeat(level + 1);
    let mut out = String::new();
    for node in seq {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Doc(_) => {}
            Node::Object(inner) => {
                out.push('{');
                for field in fields(inner) {
                    out.push('\n');
                    let mut field = field;
                    while let Some(Node::Doc(lines)) = field.first() {
                        out.push_str(&format!("{indent}/**\n"));
                        for line in lines {
                            let line = format!("{indent} * {line}");
                            out.push_str(line.trim_end());
                            out.push('\n');
                        }
                        out.push_str(&format!("{indent} */\n"));
                        field.remove(0);
                    }
                    if let Some(Node::Text(t)) = field.first_mut() {
                        *t = t.trim_start().to_string();
                    }
                    out.push_str(&indent);
                    out.push_str(block(&field, level + 1, indent.len()).trim_end());
                    out.push(',');
                }
                out.push('\n');
                out.push_str(&INDENT.repeat(level));
                out.push('}');
            }
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::declaration;

    #[test]
    fn short_declarations_stay_on_one_line() {
        assert_eq!(
            declaration("type A = { a: number, b: string | null, };"),
            "type A = { a: number, b: string | null };"
        );
        assert_eq!(
            declaration("type E = { \"kind\": \"x\" } | { \"kind\": \"y\", v: A, };"),
            "type E = { \"kind\": \"x\" } | { \"kind\": \"y\", v: A };"
        );
    }

    #[test]
    fn documented_fields_go_one_a_line_with_their_docs() {
        let ts = "type A = { a: number, \n/**\n * Why.\n *\n * More.\n */\nb: Array<string>, c: { [key in string]?: string }, };";
        assert_eq!(
            declaration(ts),
            "type A = {\n  a: number,\n  /**\n   * Why.\n   *\n   * More.\n   */\n  b: Array<string>,\n  c: { [key in string]?: string },\n};"
        );
    }

    #[test]
    fn long_unions_go_one_member_a_line() {
        let members: Vec<String> = (0..12).map(|i| format!("\"value_number_{i}\"")).collect();
        let ts = format!("type U = {};", members.join(" | "));
        let expected =
            format!("type U =\n{};", members.iter().map(|m| format!("  | {m}")).collect::<Vec<_>>().join("\n"));
        assert_eq!(declaration(&ts), expected);
    }
}
