//! The lexer: configuration text → a flat stream of [`Item`]s (keys, scalars,
//! array and map brackets, variables, includes, errors).
//!
//! It is a state machine with a stack of return states, built to accept and refuse
//! exactly what nats-server 2.15's lexer does, quirks included, because configuration
//! files written for nats-server must mean the same thing here:
//!
//! * An unquoted value that starts with a digit is an integer (with an optional size
//!   suffix `k m g t p e`, then any run of `b`/`i`), a float, an IP-like string
//!   (`127.0.0.1:4222`), a Zulu datetime, or — as soon as a character fits none of
//!   those — a plain string (`10s`, `1k5`, `1]`). So `2m` is the integer 2,000,000.
//! * `]` does not end a number, so `[1]` lexes `1]` as a string and then fails at
//!   the end of input; `[1, 2]` with a space before `]` works. Error texts quote the
//!   offending character, a NUL standing for end of input, as nats-server does.
//! * A top-level `{` is skipped and a top-level `}` ends a value, which is how a
//!   JSON document is a valid configuration.
//! * Positions: `line` is 1-based; `pos` is nats-server's column: the byte offset
//!   from the start of the line on line 1, from the preceding newline after that
//!   (so 0-based on line 1 and 1-based on later lines). Errors report where the
//!   lexer stood.
//!
//! Pure: no I/O, no allocation beyond the items and string values.

use std::collections::VecDeque;

/// What an [`Item`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    Error,
    Eof,
    Key,
    Text,
    String,
    Bool,
    Integer,
    Float,
    Datetime,
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    CommentStart,
    Variable,
    Include,
}

/// One token with nats-server's line and column (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub typ: ItemType,
    pub val: String,
    pub line: u32,
    pub pos: i64,
}

/// Lexer states; a state runs, possibly emits items, and names the next state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Top,
    TopValueEnd,
    KeyStart,
    DubQuotedKey,
    QuotedKey,
    Key,
    KeyEnd,
    IncludeStart,
    Include,
    IncludeQuotedString,
    IncludeDubQuotedString,
    IncludeString,
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    MapKeyStart,
    MapQuotedKey,
    MapDubQuotedKey,
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    MapEnd,
    QuotedString,
    DubQuotedString,
    String,
    Block,
    StringEscape,
    StringBinary,
    NumberStart,
    Number,
    ConvenientNumber,
    DateAfterYear,
    NegNumberStart,
    NegNumber,
    FloatStart,
    Float,
    IpAddr,
    CommentStart,
    Comment,
    /// Lexing has stopped (after EOF or an error).
    Done,
}

/// End of input, as the lexer's `next` reports it (Go's NUL rune).
const EOF: char = '\0';

/// The lexer over one input text. Iterate it with [`Lexer::next_item`].
pub struct Lexer<'a> {
    input: &'a [u8],
    start: usize,
    pos: usize,
    width: usize,
    line: u32,
    state: State,
    stack: Vec<State>,
    /// Decoded pieces of a string with escapes; `Some` once the first escape is met.
    parts: Option<Vec<u8>>,
    string_state: State,
    /// Offset of the newline that starts the current line (0 on line 1).
    lstart: usize,
    /// `lstart` as it was when the pending item started.
    ilstart: usize,
    items: VecDeque<Item>,
}

impl<'a> Lexer<'a> {
    #[cfg(test)]
    pub fn new(input: &'a str) -> Lexer<'a> {
        Lexer::from_bytes(input.as_bytes())
    }

    pub fn from_bytes(input: &'a [u8]) -> Lexer<'a> {
        Lexer {
            input,
            start: 0,
            pos: 0,
            width: 0,
            line: 1,
            state: State::Top,
            stack: Vec::new(),
            parts: None,
            string_state: State::String,
            lstart: 0,
            ilstart: 0,
            items: VecDeque::new(),
        }
    }

    /// The next item. After `Eof` or `Error` it keeps returning `Eof`.
    pub fn next_item(&mut self) -> Item {
        loop {
            if let Some(item) = self.items.pop_front() {
                return item;
            }
            if self.state == State::Done {
                return Item {
                    typ: ItemType::Eof,
                    val: String::new(),
                    line: self.line,
                    pos: 0,
                };
            }
            self.state = self.step(self.state);
        }
    }

    // ---- primitives -------------------------------------------------------

    fn next(&mut self) -> char {
        if self.pos >= self.input.len() {
            self.width = 0;
            return EOF;
        }
        if self.input[self.pos] == b'\n' {
            self.line += 1;
            self.lstart = self.pos;
        }
        let (c, w) = decode(&self.input[self.pos..]);
        self.width = w;
        self.pos += w;
        c
    }

    fn backup(&mut self) {
        self.pos -= self.width;
        if self.pos < self.input.len() && self.input[self.pos] == b'\n' {
            self.line -= 1;
        }
    }

    fn peek(&mut self) -> char {
        let c = self.next();
        self.backup();
        c
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn push(&mut self, s: State) {
        self.stack.push(s);
    }

    fn pop(&mut self) -> State {
        match self.stack.pop() {
            Some(s) => s,
            None => self.error("BUG in lexer: no states to pop.".to_string()),
        }
    }

    fn current(&self) -> &'a [u8] {
        &self.input[self.start..self.pos]
    }

    fn emit(&mut self, typ: ItemType) {
        let mut val = self.parts.take().unwrap_or_default();
        val.extend_from_slice(self.current());
        let pos = self.pos as i64 - self.ilstart as i64 - val.len() as i64;
        self.items.push_back(Item {
            typ,
            val: String::from_utf8_lossy(&val).into_owned(),
            line: self.line,
            pos,
        });
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn add_current_part(&mut self, offset: usize) {
        let piece = &self.input[self.start..self.pos - offset];
        self.parts
            .get_or_insert_with(Vec::new)
            .extend_from_slice(piece);
        self.start = self.pos;
    }

    fn add_part(&mut self, bytes: &[u8]) -> State {
        self.parts
            .get_or_insert_with(Vec::new)
            .extend_from_slice(bytes);
        self.start = self.pos;
        self.string_state
    }

    fn error(&mut self, msg: String) -> State {
        let pos = self.pos as i64 - self.lstart as i64;
        self.items.push_back(Item {
            typ: ItemType::Error,
            val: msg,
            line: self.line,
            pos,
        });
        State::Done
    }

    /// `EOF` or premature end inside a construct: nats-server emits EOF when nothing
    /// is pending, else "Unexpected EOF.".
    fn eof_or_error(&mut self) -> State {
        if self.pos > self.start {
            return self.error("Unexpected EOF.".to_string());
        }
        self.emit(ItemType::Eof);
        State::Done
    }

    // ---- the machine ------------------------------------------------------

    fn step(&mut self, state: State) -> State {
        use State::*;
        match state {
            Done => Done,
            Top => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return Top;
                }
                match r {
                    '{' => {
                        self.ignore();
                        return Top;
                    }
                    '#' => {
                        self.push(Top);
                        return CommentStart;
                    }
                    '/' => {
                        if self.next() == '/' {
                            self.push(Top);
                            return CommentStart;
                        }
                        self.backup();
                        return self.eof_or_error();
                    }
                    EOF => return self.eof_or_error(),
                    _ => {}
                }
                self.backup();
                self.push(TopValueEnd);
                KeyStart
            }
            TopValueEnd => {
                let r = self.next();
                match r {
                    '#' => {
                        self.push(Top);
                        return CommentStart;
                    }
                    '/' => {
                        if self.next() == '/' {
                            self.push(Top);
                            return CommentStart;
                        }
                        self.backup();
                        return TopValueEnd; // Go falls through to the whitespace case
                    }
                    ' ' | '\t' => return TopValueEnd,
                    '\n' | '\r' | EOF | ';' | ',' | '}' => {
                        self.ignore();
                        return Top;
                    }
                    _ => {}
                }
                self.error(format!(
                    "Expected a top-level value to end with a new line, comment or EOF, \
                     but got '{}' instead.",
                    special(r)
                ))
            }
            KeyStart => {
                let r = self.peek();
                match r {
                    '=' | ':' => return self.error(format!("Unexpected key separator '{r}'")),
                    '"' => {
                        self.next();
                        self.ignore();
                        return DubQuotedKey;
                    }
                    '\'' => {
                        self.next();
                        self.ignore();
                        return QuotedKey;
                    }
                    _ if r.is_whitespace() => {
                        self.next();
                        self.ignore();
                        return KeyStart;
                    }
                    _ => {}
                }
                self.ignore();
                self.next();
                Key
            }
            DubQuotedKey | QuotedKey => {
                let close = if state == DubQuotedKey { '"' } else { '\'' };
                let r = self.peek();
                if r == close {
                    self.emit(ItemType::Key);
                    self.next();
                    self.ignore();
                    return KeyEnd;
                }
                if r == EOF {
                    return self.eof_or_error();
                }
                self.next();
                state
            }
            Key => {
                let r = self.peek();
                if r.is_whitespace() {
                    return self.key_check_keyword(KeyEnd, None);
                }
                if r == '=' || r == ':' || r == EOF {
                    self.emit(ItemType::Key);
                    return KeyEnd;
                }
                self.next();
                Key
            }
            KeyEnd => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return KeyEnd;
                }
                match r {
                    '=' | ':' => {
                        self.ignore();
                        Value
                    }
                    EOF => {
                        self.emit(ItemType::Eof);
                        Done
                    }
                    _ => {
                        self.backup();
                        Value
                    }
                }
            }
            IncludeStart => {
                let r = self.next();
                if r == ' ' || r == '\t' {
                    self.ignore();
                    return IncludeStart;
                }
                self.backup();
                Include
            }
            Include => {
                let r = self.next();
                let msg = match r {
                    '\'' => {
                        self.ignore();
                        return IncludeQuotedString;
                    }
                    '"' => {
                        self.ignore();
                        return IncludeDubQuotedString;
                    }
                    '[' => "start of an array",
                    '{' => "start of a map",
                    '(' => "start of a block",
                    '-' => "start of a number",
                    _ if is_go_digit(r) => "start of a number",
                    '\\' => "escape sequence",
                    '\n' | '\r' => "new line",
                    _ => {
                        self.backup();
                        return IncludeString;
                    }
                };
                self.error(format!("Expected include value but found {msg}"))
            }
            IncludeQuotedString | IncludeDubQuotedString => {
                let close = if state == IncludeDubQuotedString {
                    '"'
                } else {
                    '\''
                };
                let r = self.next();
                if r == close {
                    self.backup();
                    self.emit(ItemType::Include);
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    // nats-server loops forever here; stop with its EOF wording.
                    return self.error("Unexpected EOF.".to_string());
                }
                state
            }
            IncludeString => {
                let r = self.next();
                match r {
                    '\n' | '\r' | EOF | ';' | '}' | ' ' | '\t' => {
                        self.backup();
                        self.emit(ItemType::Include);
                        self.pop()
                    }
                    '\'' => {
                        self.backup();
                        self.emit(ItemType::Include);
                        self.next();
                        self.ignore();
                        self.pop()
                    }
                    _ => IncludeString,
                }
            }
            Value => {
                let r = self.next();
                if r == ' ' || r == '\t' {
                    self.ignore();
                    return Value;
                }
                match r {
                    '[' => {
                        self.ignore();
                        self.emit(ItemType::ArrayStart);
                        ArrayValue
                    }
                    '{' => {
                        self.ignore();
                        self.emit(ItemType::MapStart);
                        MapKeyStart
                    }
                    '\'' => {
                        self.ignore();
                        QuotedString
                    }
                    '"' => {
                        self.ignore();
                        self.string_state = DubQuotedString;
                        DubQuotedString
                    }
                    '-' => NegNumberStart,
                    '(' => {
                        self.ignore();
                        Block
                    }
                    _ if is_go_digit(r) => {
                        self.backup();
                        NumberStart
                    }
                    '.' => self.error("Floats must start with a digit".to_string()),
                    '\n' | '\r' => self.error("Expected value but found new line".to_string()),
                    _ => {
                        self.backup();
                        self.string_state = String;
                        String
                    }
                }
            }
            ArrayValue => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return ArrayValue;
                }
                match r {
                    '#' => {
                        self.push(ArrayValue);
                        return CommentStart;
                    }
                    '/' => {
                        if self.next() == '/' {
                            self.push(ArrayValue);
                            return CommentStart;
                        }
                        self.backup();
                        return self.error("Unexpected array value terminator ','.".to_string());
                    }
                    ',' => return self.error("Unexpected array value terminator ','.".to_string()),
                    ']' => return ArrayEnd,
                    _ => {}
                }
                self.backup();
                self.push(ArrayValueEnd);
                Value
            }
            ArrayValueEnd => {
                let r = self.next();
                match r {
                    ' ' | '\t' => {
                        self.ignore();
                        ArrayValueEnd
                    }
                    '#' => {
                        self.push(ArrayValueEnd);
                        CommentStart
                    }
                    '/' => {
                        if self.next() == '/' {
                            self.push(ArrayValueEnd);
                            return CommentStart;
                        }
                        self.backup();
                        self.ignore();
                        ArrayValue
                    }
                    ',' | '\n' | '\r' => {
                        self.ignore();
                        ArrayValue
                    }
                    ']' => ArrayEnd,
                    _ => self.error(format!(
                        "Expected an array value terminator \",\" or an array terminator \"]\", \
                         but got '{}' instead.",
                        special(r)
                    )),
                }
            }
            ArrayEnd => {
                self.ignore();
                self.emit(ItemType::ArrayEnd);
                self.pop()
            }
            MapKeyStart => {
                let r = self.peek();
                match r {
                    '=' | ':' => return self.error(format!("Unexpected key separator '{r}'.")),
                    ']' => {
                        return self.error(format!("Unexpected array end '{r}' processing map."))
                    }
                    '}' => {
                        self.next();
                        self.ignore();
                        return MapEnd;
                    }
                    '#' => {
                        self.next();
                        self.push(MapKeyStart);
                        return CommentStart;
                    }
                    '/' => {
                        self.next();
                        if self.next() == '/' {
                            self.push(MapKeyStart);
                            return CommentStart;
                        }
                        self.backup();
                    }
                    '\'' => {
                        self.next();
                        self.ignore();
                        return MapQuotedKey;
                    }
                    '"' => {
                        self.next();
                        self.ignore();
                        return MapDubQuotedKey;
                    }
                    EOF => return self.error("Unexpected EOF processing map.".to_string()),
                    _ if r.is_whitespace() => {
                        self.next();
                        self.ignore();
                        return MapKeyStart;
                    }
                    _ => {}
                }
                self.ignore();
                self.next();
                MapKey
            }
            MapQuotedKey | MapDubQuotedKey => {
                let (close, what) = if state == MapDubQuotedKey {
                    ('"', "double quoted map key")
                } else {
                    ('\'', "quoted map key")
                };
                let r = self.peek();
                if r == EOF {
                    return self.error(format!("Unexpected EOF processing {what}."));
                }
                if r == close {
                    self.emit(ItemType::Key);
                    self.next();
                    self.ignore();
                    return MapKeyEnd;
                }
                self.next();
                state
            }
            MapKey => {
                let r = self.peek();
                if r == EOF {
                    return self.error("Unexpected EOF processing map key.".to_string());
                }
                if r.is_whitespace() {
                    return self.key_check_keyword(MapKeyEnd, Some(MapValueEnd));
                }
                if r == '=' || r == ':' {
                    self.emit(ItemType::Key);
                    return MapKeyEnd;
                }
                self.next();
                MapKey
            }
            MapKeyEnd => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return MapKeyEnd;
                }
                if r == '=' || r == ':' {
                    self.ignore();
                    return MapValue;
                }
                self.backup();
                MapValue
            }
            MapValue => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return MapValue;
                }
                match r {
                    ',' => self.error("Unexpected map value terminator \",\".".to_string()),
                    '}' => {
                        self.ignore();
                        MapEnd
                    }
                    _ => {
                        self.backup();
                        self.push(MapValueEnd);
                        Value
                    }
                }
            }
            MapValueEnd => {
                let r = self.next();
                match r {
                    ' ' | '\t' => {
                        self.ignore();
                        MapValueEnd
                    }
                    '#' => {
                        self.push(MapValueEnd);
                        CommentStart
                    }
                    '/' => {
                        if self.next() == '/' {
                            self.push(MapValueEnd);
                            return CommentStart;
                        }
                        self.backup();
                        self.ignore();
                        MapKeyStart
                    }
                    ';' | ',' | '\n' | '\r' => {
                        self.ignore();
                        MapKeyStart
                    }
                    '}' => {
                        self.ignore();
                        MapEnd
                    }
                    _ => self.error(format!(
                        "Expected a map value terminator \",\" or a map terminator \"}}\", \
                         but got '{}' instead.",
                        special(r)
                    )),
                }
            }
            MapEnd => {
                self.ignore();
                self.emit(ItemType::MapEnd);
                self.pop()
            }
            QuotedString => {
                let r = self.next();
                match r {
                    '\'' => {
                        self.backup();
                        self.emit(ItemType::String);
                        self.next();
                        self.ignore();
                        self.pop()
                    }
                    EOF => self.eof_or_error(),
                    _ => QuotedString,
                }
            }
            DubQuotedString => {
                let r = self.next();
                match r {
                    '\\' => {
                        self.add_current_part(1);
                        StringEscape
                    }
                    '"' => {
                        self.backup();
                        self.emit(ItemType::String);
                        self.next();
                        self.ignore();
                        self.pop()
                    }
                    EOF => self.eof_or_error(),
                    _ => DubQuotedString,
                }
            }
            String => {
                let r = self.next();
                match r {
                    '\\' => {
                        self.add_current_part(1);
                        StringEscape
                    }
                    '\n' | '\r' | EOF | ';' | ',' | ']' | '}' | ' ' | '\t' => {
                        self.backup();
                        let text = self.current();
                        if self.parts.is_some() {
                            self.emit(ItemType::String);
                        } else if is_bool(text) {
                            self.emit(ItemType::Bool);
                        } else if text.first() == Some(&b'$') {
                            self.start += 1;
                            self.emit(ItemType::Variable);
                        } else {
                            self.emit(ItemType::String);
                        }
                        self.pop()
                    }
                    '\'' => {
                        self.backup();
                        self.emit(ItemType::String);
                        self.next();
                        self.ignore();
                        self.pop()
                    }
                    _ => String,
                }
            }
            Block => {
                let r = self.next();
                if r == ')' {
                    self.backup();
                    self.backup();
                    if self.next() != '\n' {
                        self.next();
                        return Block;
                    }
                    self.next();
                    match self.next() {
                        '\n' | EOF => {
                            self.backup();
                            self.backup();
                            self.emit(ItemType::String);
                            self.next();
                            self.ignore();
                            return self.pop();
                        }
                        _ => self.backup(),
                    }
                } else if r == EOF {
                    return self.error("Unexpected EOF processing block.".to_string());
                }
                Block
            }
            StringEscape => {
                let r = self.next();
                match r {
                    'x' => StringBinary,
                    't' => self.add_part(b"\t"),
                    'n' => self.add_part(b"\n"),
                    'r' => self.add_part(b"\r"),
                    '"' => self.add_part(b"\""),
                    '\\' => self.add_part(b"\\"),
                    _ => self.error(format!(
                        "Invalid escape character '{}'. Only the following escape characters \
                         are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                        special(r)
                    )),
                }
            }
            StringBinary => {
                const EOL: &str =
                    "Expected two hexadecimal digits after '\\x', but hit end of line";
                let r = self.next();
                if r == '\n' || r == '\r' {
                    return self.error(EOL.to_string());
                }
                let r = self.next();
                if r == '\n' || r == '\r' {
                    return self.error(EOL.to_string());
                }
                let hex = &self.input[self.pos.saturating_sub(2)..self.pos];
                match decode_hex_byte(hex) {
                    Some(b) => {
                        self.add_part(&[b]);
                        self.string_state
                    }
                    None => {
                        let shown = std::string::String::from_utf8_lossy(hex).into_owned();
                        self.error(format!(
                            "Expected two hexadecimal digits after '\\x', but got '{shown}'"
                        ))
                    }
                }
            }
            NumberStart => {
                let r = self.next();
                if !is_go_digit(r) {
                    if r == '.' {
                        return self.error("Floats must start with a digit, not '.'.".to_string());
                    }
                    return self.error(format!("Expected a digit but got '{}'.", special(r)));
                }
                Number
            }
            Number => {
                let r = self.next();
                match r {
                    '-' => {
                        if self.pos - self.start != 5 {
                            return self
                                .error("All ISO8601 dates must be in full Zulu form.".to_string());
                        }
                        DateAfterYear
                    }
                    '.' => FloatStart,
                    _ if is_go_digit(r) => Number,
                    _ if is_number_suffix(r) => ConvenientNumber,
                    '\n' | '\r' | EOF | '}' | ';' | ',' | ' ' | '\t' => {
                        self.backup();
                        self.emit(ItemType::Integer);
                        self.pop()
                    }
                    _ => {
                        // Not a number after all: the rest is an unquoted string.
                        self.string_state = String;
                        String
                    }
                }
            }
            ConvenientNumber => {
                let r = self.next();
                match r {
                    'b' | 'B' | 'i' | 'I' => ConvenientNumber,
                    '\n' | '\r' | EOF | '}' | ';' | ',' | ' ' | '\t' => {
                        self.backup();
                        self.emit(ItemType::Integer);
                        self.pop()
                    }
                    _ => {
                        self.backup();
                        self.string_state = String;
                        String
                    }
                }
            }
            DateAfterYear => {
                const FORMAT: &[u8] = b"00-00T00:00:00Z";
                for &f in FORMAT {
                    let r = self.next();
                    if f == b'0' {
                        if !is_go_digit(r) {
                            return self.error(format!(
                                "Expected digit in ISO8601 datetime, but found '{}' instead.",
                                special(r)
                            ));
                        }
                    } else if r != f as char {
                        return self.error(format!(
                            "Expected '{}' in ISO8601 datetime, but found '{}' instead.",
                            f as char,
                            special(r)
                        ));
                    }
                }
                self.emit(ItemType::Datetime);
                self.pop()
            }
            NegNumberStart => {
                let r = self.next();
                if !is_go_digit(r) {
                    if r == '.' {
                        return self.error("Floats must start with a digit, not '.'.".to_string());
                    }
                    return self.error(format!("Expected a digit but got '{}'.", special(r)));
                }
                NegNumber
            }
            NegNumber => {
                let r = self.next();
                match r {
                    '.' => FloatStart,
                    _ if is_go_digit(r) => NegNumber,
                    _ if is_number_suffix(r) => ConvenientNumber,
                    _ => {
                        self.backup();
                        self.emit(ItemType::Integer);
                        self.pop()
                    }
                }
            }
            FloatStart => {
                let r = self.next();
                if !is_go_digit(r) {
                    return self.error(format!(
                        "Floats must have a digit after the '.', but got '{}' instead.",
                        special(r)
                    ));
                }
                Float
            }
            Float => {
                let r = self.next();
                if is_go_digit(r) {
                    return Float;
                }
                if r == '.' {
                    return IpAddr;
                }
                self.backup();
                self.emit(ItemType::Float);
                self.pop()
            }
            IpAddr => {
                let r = self.next();
                if is_go_digit(r) || matches!(r, '.' | ':' | '-') {
                    return IpAddr;
                }
                self.backup();
                self.emit(ItemType::String);
                self.pop()
            }
            CommentStart => {
                self.ignore();
                self.emit(ItemType::CommentStart);
                Comment
            }
            Comment => {
                let r = self.peek();
                if matches!(r, '\n' | '\r' | EOF) {
                    self.emit(ItemType::Text);
                    return self.pop();
                }
                self.next();
                Comment
            }
        }
    }

    /// After a key followed by a space: `include` starts an include, anything
    /// else is a key.
    fn key_check_keyword(&mut self, fall_through: State, push: Option<State>) -> State {
        if self.current().eq_ignore_ascii_case(b"include") {
            self.ignore();
            if let Some(s) = push {
                self.push(s);
            }
            return State::IncludeStart;
        }
        self.emit(ItemType::Key);
        fall_through
    }
}

/// Decode one UTF-8 character; an invalid byte is U+FFFD of width 1 (as Go does).
fn decode(bytes: &[u8]) -> (char, usize) {
    let len = match bytes[0] {
        0x00..=0x7f => return (bytes[0] as char, 1),
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return ('\u{fffd}', 1),
    };
    match bytes
        .get(..len)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.chars().next())
    {
        Some(c) => (c, len),
        None => ('\u{fffd}', 1),
    }
}

/// A digit. Go's `unicode.IsDigit` also takes non-ASCII decimal digits; no
/// configuration relies on that, so only ASCII digits count here.
fn is_go_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn is_number_suffix(c: char) -> bool {
    matches!(
        c,
        'k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T' | 'p' | 'P' | 'e' | 'E'
    )
}

fn is_bool(text: &[u8]) -> bool {
    ["true", "false", "on", "off", "yes", "no"]
        .iter()
        .any(|b| text.eq_ignore_ascii_case(b.as_bytes()))
}

fn decode_hex_byte(hex: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(hex).ok()?;
    if s.len() != 2 {
        return None;
    }
    u8::from_str_radix(s, 16).ok()
}

/// How nats-server shows a character in an error: a newline as `\n`, everything
/// else (end of input included, as a NUL) as itself.
fn special(c: char) -> String {
    match c {
        '\n' => "\\n".to_string(),
        c => c.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(input: &str) -> Vec<(ItemType, std::string::String, u32, i64)> {
        let mut lx = Lexer::new(input);
        let mut out = Vec::new();
        loop {
            let it = lx.next_item();
            let stop = matches!(it.typ, ItemType::Eof | ItemType::Error);
            out.push((it.typ, it.val, it.line, it.pos));
            if stop {
                return out;
            }
        }
    }

    fn kinds(input: &str) -> Vec<(ItemType, std::string::String)> {
        items(input)
            .into_iter()
            .filter(|(t, ..)| !matches!(t, ItemType::CommentStart | ItemType::Text))
            .map(|(t, v, ..)| (t, v))
            .collect()
    }

    use ItemType::*;

    fn kv(k: &str, t: ItemType, v: &str) -> Vec<(ItemType, std::string::String)> {
        vec![(Key, k.to_string()), (t, v.to_string())]
    }

    #[test]
    fn three_separators() {
        for src in [
            "foo = bar",
            "foo: bar",
            "foo bar",
            "foo=bar",
            "foo:bar",
            "foo\tbar",
        ] {
            let mut want = kv("foo", String, "bar");
            want.push((Eof, "".into()));
            assert_eq!(kinds(src), want, "{src:?}");
        }
    }

    #[test]
    fn numbers_suffixes_and_strings_that_start_with_digits() {
        assert_eq!(kinds("a: 2m")[1], (Integer, "2m".into()));
        assert_eq!(kinds("a: 1MB")[1], (Integer, "1MB".into()));
        assert_eq!(kinds("a: 1KiB")[1], (Integer, "1KiB".into()));
        assert_eq!(kinds("a: -5k")[1], (Integer, "-5k".into()));
        assert_eq!(kinds("a: 10s")[1], (String, "10s".into()));
        assert_eq!(kinds("a: 1k5")[1], (String, "1k5".into()));
        assert_eq!(kinds("a: 1.5")[1], (Float, "1.5".into()));
        assert_eq!(
            kinds("a: 127.0.0.1:4222")[1],
            (String, "127.0.0.1:4222".into())
        );
        assert_eq!(
            kinds("a: 2026-01-01T00:00:00Z")[1],
            (Datetime, "2026-01-01T00:00:00Z".into())
        );
    }

    #[test]
    fn positions_are_nats_servers() {
        let it = items("port: 1\n  foo: 2\n");
        assert_eq!(it[0], (Key, "port".into(), 1, 0));
        assert_eq!(it[2], (Key, "foo".into(), 2, 3));
    }

    #[test]
    fn a_bracket_after_a_number_is_part_of_a_string() {
        let it = items("a: [1]\n");
        let last = it.last().unwrap();
        assert_eq!(last.0, Error);
        assert_eq!(
            last.1,
            "Expected an array value terminator \",\" or an array terminator \"]\", but got '\0' instead."
        );
        assert_eq!(last.2, 2);
    }

    #[test]
    fn block_strings_keep_the_text_between_the_parentheses() {
        assert_eq!(kinds("a (\nx\n y\n)\n")[1], (String, "\nx\n y\n".into()));
    }

    #[test]
    fn variables_and_bcrypt() {
        assert_eq!(kinds("a: $foo")[1], (Variable, "foo".into()));
        assert_eq!(kinds("a: a$b")[1], (String, "a$b".into()));
    }

    #[test]
    fn include_keyword() {
        assert_eq!(
            kinds("include ./x.conf\n"),
            vec![(Include, "./x.conf".into()), (Eof, "".into())]
        );
        assert_eq!(
            kinds("a { include 'x.conf' }")[2],
            (Include, "x.conf".into())
        );
    }
}
