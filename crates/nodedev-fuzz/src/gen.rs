//! Structured values from fuzz bytes: a harness that needs a model rather than
//! text (a node-device model for the writer, an address) reads its choices from
//! the input, so the same driver and the same mutations drive it.

/// Reads choices from a byte string; past its end every choice is 0, so any
/// input, even an empty one, gives a value.
#[derive(Clone, Debug)]
pub struct Source<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Characters a generated string is made of: ASCII letters and digits, what XML
/// escapes, XML's white space, the controls XML forbids (NUL and ESC among
/// them), U+FFFE/U+FFFF, and a few non-ASCII characters.
const PALETTE: &[char] = &[
    'a', 'b', 'Z', '0', '9', ' ', '-', '_', '.', ':', '/', '<', '>', '&', '\'', '"', ']', ';', '#',
    '=', '\t', '\n', '\r', '\0', '\u{1}', '\u{8}', '\u{b}', '\u{1a}', '\u{1b}', '\u{1f}', '\u{7f}',
    '\u{85}', '\u{a0}', 'é', '€', '\u{fffd}', '\u{fffe}', '\u{ffff}', '😀',
];

impl<'a> Source<'a> {
    /// Choices from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Source { data, pos: 0 }
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// A number in `0..n` (0 when `n` is 0), from one or two bytes.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let v = if n <= 256 {
            usize::from(self.byte())
        } else {
            usize::from(self.byte()) << 8 | usize::from(self.byte())
        };
        v % n
    }

    /// A boolean.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// 32 bits.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Mostly a small number, sometimes any 32-bit one.
    pub fn number(&mut self) -> u32 {
        match self.below(8) {
            0 => self.u32(),
            _ => u32::from(self.byte()),
        }
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'b, T>(&mut self, items: &'b [T]) -> &'b T {
        &items[self.below(items.len())]
    }

    /// A string of up to `max` characters from the palette, or (every other
    /// time) a word from `words`.
    pub fn string(&mut self, max: usize, words: &[&str]) -> String {
        if !words.is_empty() && self.bool() {
            return self.pick(words).to_string();
        }
        let len = self.below(max + 1);
        (0..len).map(|_| *self.pick(PALETTE)).collect()
    }

    /// Seven times in eight a word from `words` (a value the schema allows),
    /// else a string of up to `max` characters from the palette.
    pub fn mostly(&mut self, max: usize, words: &[&str]) -> String {
        if self.below(8) != 0 {
            self.pick(words).to_string()
        } else {
            let len = self.below(max + 1);
            (0..len).map(|_| *self.pick(PALETTE)).collect()
        }
    }

    /// `Some` of `f` or `None`.
    pub fn option<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.bool() {
            Some(f(self))
        } else {
            None
        }
    }

    /// Up to `max` values of `f`.
    pub fn list<T>(&mut self, max: usize, mut f: impl FnMut(&mut Self) -> T) -> Vec<T> {
        let n = self.below(max + 1);
        (0..n).map(|_| f(self)).collect()
    }
}
