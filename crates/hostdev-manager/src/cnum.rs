//! Numbers read the way libvirt reads them: `strtoul(3)` and friends behind
//! libvirt's `virStrToLong_*` wrappers (src/util/virstring.c), whose quirks show
//! up in node-device documents (`-1` as `UINT_MAX`, base 0 reading `010` as 8,
//! leading spaces accepted, trailing ones not).

/// What `strtoull(s, &end, base)` returns: the value (wrapped as C does for a
/// leading `-`), how many bytes it consumed (0: no number), whether it
/// overflowed (`ERANGE`) and whether a `-` was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Parsed {
    value: u64,
    end: usize,
    overflow: bool,
    negative: bool,
}

fn digit(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 10),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        _ => None,
    }
}

/// C's `isspace` in the "C" locale.
fn c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// glibc's `strtoull`: spaces, a sign, a `0x` prefix (base 0 or 16; only
/// when a hex digit follows), `0` meaning octal in base 0.
fn strtoull(s: &[u8], base: u32) -> Parsed {
    let none = Parsed {
        value: 0,
        end: 0,
        overflow: false,
        negative: false,
    };
    let mut i = 0;
    while i < s.len() && c_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let hex_prefix = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).and_then(|&b| digit(b)).is_some_and(|d| d < 16);
    if (base == 0 || base == 16) && hex_prefix {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if s.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).and_then(|&b| digit(b)).filter(|d| *d < base) {
        match value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return none;
    }
    if overflow {
        value = u64::MAX;
    } else if negative {
        value = value.wrapping_neg();
    }
    Parsed {
        value,
        end: i,
        overflow,
        negative,
    }
}

/// `virStrToLong_ui` with an end pointer: the number at the start of `s` and
/// the bytes it took; anything may follow it.
pub fn to_uint_prefix(s: &[u8], base: u32) -> Option<(u32, usize)> {
    let p = strtoull(s, base);
    if p.end == 0 || p.overflow {
        return None;
    }
    // libvirt's rule: "-1" is UINT_MAX whatever the width of long.
    let value = if p.negative {
        if p.value.wrapping_neg() > u64::from(u32::MAX) {
            return None;
        }
        p.value & 0xffff_ffff
    } else {
        p.value
    };
    u32::try_from(value).ok().map(|v| (v, p.end))
}

/// `virStrToLong_ui(s, NULL, base, &v)`: the whole string is one number.
pub fn to_uint(s: &[u8], base: u32) -> Option<u32> {
    match to_uint_prefix(s, base) {
        Some((v, end)) if end == s.len() => Some(v),
        _ => None,
    }
}

/// `virStrToLong_i(s, NULL, base, &v)`.
pub fn to_int(s: &[u8], base: u32) -> Option<i32> {
    let p = strtoull(s, base);
    if p.end == 0 || p.end != s.len() {
        return None;
    }
    // strtol: the magnitude must fit a long; the result must fit an int.
    let magnitude = if p.negative {
        p.value.wrapping_neg()
    } else {
        p.value
    };
    if p.overflow || magnitude > i64::MAX as u64 + u64::from(p.negative) {
        return None;
    }
    let v: i64 = if p.negative {
        0i64.wrapping_sub(magnitude as i64)
    } else {
        magnitude as i64
    };
    i32::try_from(v).ok()
}

/// `virStrToLong_ull(s, NULL, base, &v)` (a leading `-` wraps, as strtoull does).
pub fn to_ulonglong(s: &[u8], base: u32) -> Option<u64> {
    let p = strtoull(s, base);
    (p.end != 0 && p.end == s.len() && !p.overflow).then_some(p.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_as_libvirt_reads_it() {
        assert_eq!(to_uint(b"42", 10), Some(42));
        assert_eq!(to_uint(b"  42", 10), Some(42));
        assert_eq!(to_uint(b"42 ", 10), None);
        assert_eq!(to_uint(b"", 10), None);
        assert_eq!(to_uint(b"-1", 10), Some(u32::MAX));
        assert_eq!(to_uint(b"-4294967296", 10), None);
        assert_eq!(to_uint(b"4294967296", 10), None);
        assert_eq!(to_uint(b"1d6b", 16), Some(0x1d6b));
        assert_eq!(to_uint(b"0x1d6b", 16), Some(0x1d6b));
        assert_eq!(to_uint(b"010", 0), Some(8));
        assert_eq!(to_uint(b"0x10", 0), Some(16));
        assert_eq!(to_uint(b"0x", 16), None);
        assert_eq!(to_uint(b"0", 0), Some(0));
        assert_eq!(to_uint(b"08", 0), None);
        assert_eq!(to_uint_prefix(b"0:0:1:0", 10), Some((0, 1)));
        assert_eq!(to_uint_prefix(b"12:3", 10), Some((12, 2)));
        assert_eq!(to_uint_prefix(b":3", 10), None);
    }

    #[test]
    fn signed_and_long_long() {
        assert_eq!(to_int(b"-1", 10), Some(-1));
        assert_eq!(to_int(b"2147483647", 10), Some(i32::MAX));
        assert_eq!(to_int(b"2147483648", 10), None);
        assert_eq!(to_int(b"-2147483648", 10), Some(i32::MIN));
        assert_eq!(to_int(b"1x", 10), None);
        assert_eq!(to_int(b"0x1", 0), Some(1));
        assert_eq!(to_ulonglong(b"18446744073709551615", 0), Some(u64::MAX));
        assert_eq!(to_ulonglong(b"18446744073709551616", 0), None);
        assert_eq!(to_ulonglong(b"-1", 0), Some(u64::MAX));
        assert_eq!(to_ulonglong(b"65536", 0), Some(65536));
    }
}
