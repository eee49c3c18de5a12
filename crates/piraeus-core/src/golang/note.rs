//! Signed notes (golang.org/x/mod/sumdb/note): the checksum database signs its tree heads as a
//! text followed by a blank line and `— name base64(keyhash ‖ signature)` lines. Only Ed25519
//! verifier keys exist, written `name+hash+base64(0x01 ‖ public key)`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The algorithm byte that starts an Ed25519 key.
const ALG_ED25519: u8 = 1;
/// Go refuses notes with more signatures than this, so parsing stays cheap.
const MAX_SIGNATURES: usize = 100;
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a verifier key or a note was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    /// The verifier key is not `name+hash+key`, or its hash is not the hash of its name and key.
    BadKey(&'static str),
    /// The note is not text, a blank line and well-formed signature lines.
    Malformed,
    /// A signature by the known key does not verify: the note was altered or forged.
    BadSignature,
    /// No signature is by the known key (name and key hash).
    Unsigned,
}

impl std::fmt::Display for NoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteError::BadKey(why) => write!(f, "invalid verifier key: {why}"),
            NoteError::Malformed => f.write_str("malformed signed note"),
            NoteError::BadSignature => f.write_str("invalid signature on signed note"),
            NoteError::Unsigned => f.write_str("signed note has no signature by the known key"),
        }
    }
}

impl std::error::Error for NoteError {}

/// A verifier key: the name a signature line must carry, its key hash, and the Ed25519 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    hash: u32,
    key: [u8; 32],
}

impl Verifier {
    /// Parses `name+hash+base64key` as note.NewVerifier does, checking the hash.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let (name, rest) = vkey.split_once('+').unwrap_or((vkey, ""));
        let (hash16, key64) = rest.split_once('+').unwrap_or((rest, ""));
        if !is_valid_name(name) {
            return Err(NoteError::BadKey("bad name"));
        }
        let hash = (hash16.len() == 8 && hash16.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(hash16, 16).ok())
            .flatten()
            .ok_or(NoteError::BadKey("bad key hash"))?;
        let encoded = STANDARD
            .decode(key64)
            .map_err(|_| NoteError::BadKey("bad base64"))?;
        if encoded.is_empty() {
            return Err(NoteError::BadKey("no key"));
        }
        if hash != key_hash(name, &encoded) {
            return Err(NoteError::BadKey("key hash does not match"));
        }
        let (alg, key) = (encoded[0], &encoded[1..]);
        if alg != ALG_ED25519 {
            return Err(NoteError::BadKey("unknown algorithm"));
        }
        let key = key
            .try_into()
            .map_err(|_| NoteError::BadKey("bad key length"))?;
        Ok(Self {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Opens a signed note: checks it is well-formed, that it carries a signature by this key,
    /// and that every signature by this key verifies. Signatures by other keys are ignored, as
    /// Go does. Returns the signed text (ending in a newline).
    pub fn open<'a>(&self, msg: &'a [u8]) -> Result<&'a str, NoteError> {
        let msg = std::str::from_utf8(msg).map_err(|_| NoteError::Malformed)?;
        if msg.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::Malformed);
        }
        let split = msg.rfind("\n\n").ok_or(NoteError::Malformed)?;
        let (text, signatures) = (&msg[..split + 1], &msg[split + 2..]);
        if !signatures.ends_with('\n') {
            return Err(NoteError::Malformed);
        }
        let mut verified = false;
        for (count, line) in signatures[..signatures.len() - 1].split('\n').enumerate() {
            if count >= MAX_SIGNATURES {
                return Err(NoteError::Malformed);
            }
            let line = line
                .strip_prefix(SIGNATURE_PREFIX)
                .ok_or(NoteError::Malformed)?;
            let (name, encoded) = line.split_once(' ').unwrap_or((line, ""));
            let signature = STANDARD.decode(encoded).map_err(|_| NoteError::Malformed)?;
            if !is_valid_name(name) || encoded.is_empty() || signature.len() < 5 {
                return Err(NoteError::Malformed);
            }
            let hash = u32::from_be_bytes(signature[..4].try_into().expect("four bytes"));
            if name != self.name || hash != self.hash {
                continue;
            }
            if !self.verifies(text.as_bytes(), &signature[4..]) {
                return Err(NoteError::BadSignature);
            }
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(NoteError::Unsigned)
        }
    }

    fn verifies(&self, text: &[u8], signature: &[u8]) -> bool {
        use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
        UnparsedPublicKey::new(&ED25519, &self.key)
            .verify(text, signature)
            .is_ok()
    }
}

/// The first four bytes of SHA-256(name ‖ "\n" ‖ algorithm-tagged key), big-endian.
fn key_hash(name: &str, key: &[u8]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name)
        .chain_update("\n")
        .chain_update(key)
        .finalize();
    u32::from_be_bytes(digest[..4].try_into().expect("four bytes"))
}

/// Non-empty, no Unicode space, no `+`.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('+')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golang::tlog::tests::vectors;

    #[test]
    fn parses_go_verifier_keys() {
        let v = vectors();
        let verifier = Verifier::parse(&v.verifier_key).unwrap();
        assert_eq!(verifier.name(), v.name);
        let known = Verifier::parse(super::super::checksumdb::SUM_GOLANG_ORG_KEY).unwrap();
        assert_eq!(known.name(), "sum.golang.org");
    }

    #[test]
    fn refuses_bad_verifier_keys() {
        let key = vectors().verifier_key;
        let (name, rest) = key.split_once('+').unwrap();
        let (hash, encoded) = rest.split_once('+').unwrap();
        let wrong_hash = format!("{:08x}", u32::from_str_radix(hash, 16).unwrap() ^ 1);
        for bad in [
            format!("{name}+{wrong_hash}+{encoded}"),
            format!("other.name+{hash}+{encoded}"),
            format!("{name}+{hash}"),
            format!("{name}+{}+{encoded}", &hash[1..]),
            format!("{name}+{hash}+{}", &encoded[4..]),
            format!("na me+{hash}+{encoded}"),
            String::new(),
        ] {
            assert!(
                matches!(Verifier::parse(&bad), Err(NoteError::BadKey(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn opens_notes_signed_by_x_mod() {
        let v = vectors();
        let verifier = Verifier::parse(&v.verifier_key).unwrap();
        let head = &v.log.heads[0];
        let text = verifier.open(head.note.as_bytes()).unwrap();
        assert!(text.starts_with("go.sum database tree\n1\n"));
        // Another key's signature beside ours is ignored; alone, it is not enough.
        assert_eq!(
            verifier.open(v.both_signed.as_bytes()),
            Ok("a note\nof two lines\n")
        );
        assert_eq!(
            verifier.open(v.other_signed.as_bytes()),
            Err(NoteError::Unsigned)
        );
        let other = Verifier::parse(&v.other_key).unwrap();
        assert_eq!(other.open(head.note.as_bytes()), Err(NoteError::Unsigned));
    }

    #[test]
    fn refuses_altered_notes() {
        let v = vectors();
        let verifier = Verifier::parse(&v.verifier_key).unwrap();
        let note = &v.log.heads[0].note;
        let (text, line) = note.rsplit_once("\n\n").unwrap();
        let (prefix, encoded) = line.trim_end().rsplit_once(' ').unwrap();
        let mut signature = STANDARD.decode(encoded).unwrap();

        let mut flipped = signature.clone();
        flipped[10] ^= 1;
        let flipped = format!("{text}\n\n{prefix} {}\n", STANDARD.encode(&flipped));
        assert_eq!(
            verifier.open(flipped.as_bytes()),
            Err(NoteError::BadSignature)
        );

        let altered = note.replacen("\n1\n", "\n2\n", 1);
        assert_eq!(
            verifier.open(altered.as_bytes()),
            Err(NoteError::BadSignature)
        );

        // The right signature filed under another key hash is not ours.
        signature[0] ^= 1;
        let rehashed = format!("{text}\n\n{prefix} {}\n", STANDARD.encode(&signature));
        assert_eq!(verifier.open(rehashed.as_bytes()), Err(NoteError::Unsigned));

        for malformed in [
            text.to_owned(),
            format!("{text}\n\n"),
            format!("{text}\n\nnot a signature\n"),
            format!("{text}\n\n{line}").trim_end().to_owned(),
            note.replacen("tree", "tree\u{1}", 1),
        ] {
            assert_eq!(
                verifier.open(malformed.as_bytes()),
                Err(NoteError::Malformed)
            );
        }
    }
}
