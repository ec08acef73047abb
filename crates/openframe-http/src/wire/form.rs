//! Percent-decoding of one `application/x-www-form-urlencoded` component (a query parameter's name or
//! value, a token request's field): `+` is a space, `%XX` a byte, and the result must be UTF-8.

/// Why a component could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormError {
    /// A `%` not followed by two hexadecimal digits.
    Malformed,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

/// `component` decoded.
pub(crate) fn decode(component: &str) -> Result<String, FormError> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(FormError::Malformed)?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}
