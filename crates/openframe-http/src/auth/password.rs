//! Password hashing: argon2id with the `argon2` crate's defaults (m = 19 MiB, t = 2, p = 1, the OWASP
//! recommendation), stored as PHC strings so the parameters travel with each hash.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use openframe_core::{Error, Result};

/// Hashes `password` with a fresh random salt.
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("hashing a password: {e}")))
}

/// Whether `password` matches `phc_hash`; a malformed hash matches nothing.
pub fn verify(password: &str, phc_hash: &str) -> bool {
    match PasswordHash::new(phc_hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("s3cret!").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("s3cret!", &h));
        assert!(!verify("s3cret", &h));
        assert!(!verify("s3cret!", "not a hash"));
    }
}
