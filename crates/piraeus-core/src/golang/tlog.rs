//! The checksum database's transparency log (golang.org/x/mod/sumdb/tlog): an RFC 6962 Merkle
//! tree of go.sum records, its signed tree head text, the tiles its hashes are served in, and
//! record (inclusion) and tree (consistency) proofs.
//!
//! Proofs are built from hashes read out of tiles, which nothing has authenticated yet; checking
//! a proof against the signed root is what authenticates them (and the record), as x/mod's
//! tile reader does by proving each tile. So a wrong tile can only make a check fail.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

pub const HASH_SIZE: usize = 32;
pub type Hash = [u8; HASH_SIZE];

/// The height of the database's tiles: 2^8 hashes each, as sum.golang.org serves them.
pub const TILE_HEIGHT: u8 = 8;
const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
const TREE_PREFIX: &str = "go.sum database tree\n";

/// The hash of a leaf: a record's text.
pub fn record_hash(data: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0])
        .chain_update(data)
        .finalize()
        .into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// A tree head: the number of records and the root hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tree {
    pub n: u64,
    pub hash: Hash,
}

impl Tree {
    /// Parses `go.sum database tree\nN\nbase64(hash)\n`; later lines are ignored, as Go does,
    /// for forward compatibility.
    pub fn parse(text: &str) -> Option<Tree> {
        let rest = text.strip_prefix(TREE_PREFIX)?;
        let mut lines = rest.splitn(3, '\n');
        let (count, hash) = (lines.next()?, lines.next()?);
        lines.next()?;
        let n: u64 = count.parse().ok()?;
        if count != n.to_string() || n > i64::MAX as u64 {
            return None;
        }
        let hash = STANDARD.decode(hash).ok()?.try_into().ok()?;
        Some(Tree { n, hash })
    }
}

/// A complete subtree: the 2^level leaves from `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    pub level: u8,
    pub index: u64,
}

/// A tile: `width` consecutive hashes of one level of the tree (level `level * 8`), the
/// `index`-th such run; or, with no level, the records themselves (`tile/8/data/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    pub level: Option<u8>,
    pub index: u64,
    pub width: u16,
}

impl Tile {
    /// `tile/8/L/NNN[.p/W]`, where NNN is the index in base 1000, its leading groups as
    /// `xNNN/` path elements so no directory holds more than a few thousand entries.
    pub fn path(&self) -> String {
        let mut groups = vec![format!("{:03}", self.index % 1000)];
        let mut rest = self.index / 1000;
        while rest > 0 {
            groups.push(format!("x{:03}", rest % 1000));
            rest /= 1000;
        }
        groups.reverse();
        let level = match self.level {
            Some(level) => level.to_string(),
            None => "data".to_owned(),
        };
        let mut path = format!("tile/{TILE_HEIGHT}/{level}/{}", groups.join("/"));
        if u64::from(self.width) != TILE_WIDTH {
            path.push_str(&format!(".p/{}", self.width));
        }
        path
    }

    /// The same tile once complete: what a database keeps when a partial tile is gone.
    pub fn full(self) -> Tile {
        Tile {
            width: TILE_WIDTH as u16,
            ..self
        }
    }

    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The size in bytes of a hash tile's data.
    pub fn len(&self) -> usize {
        usize::from(self.width) * HASH_SIZE
    }
}

/// The hash tile of a tree of `tree_size` records that holds `node`, and the range of its
/// hashes that `node` is the Merkle hash of. `node` must be a complete subtree of the tree.
pub fn tile_for(node: Node, tree_size: u64) -> (Tile, std::ops::Range<usize>) {
    let tile_level = node.level / TILE_HEIGHT;
    let within = node.level % TILE_HEIGHT;
    let first = node.index << within;
    let count = 1u64 << within;
    let entries = tree_size >> (u32::from(tile_level) * u32::from(TILE_HEIGHT));
    let index = first / TILE_WIDTH;
    let width = (entries - index * TILE_WIDTH).min(TILE_WIDTH);
    let offset = (first % TILE_WIDTH) as usize;
    let tile = Tile {
        level: Some(tile_level),
        index,
        width: width as u16,
    };
    (tile, offset..offset + count as usize)
}

/// The Merkle hash of a run of 2^k hashes read from a tile.
pub fn hash_of_run(data: &[u8]) -> Hash {
    if data.len() == HASH_SIZE {
        return data.try_into().expect("one hash");
    }
    let (left, right) = data.split_at(data.len() / 2);
    node_hash(&hash_of_run(left), &hash_of_run(right))
}

/// The largest power of two below `n` (n > 1), and its log.
fn split_point(n: u64) -> (u64, u8) {
    let level = (n - 1).ilog2() as u8;
    (1 << level, level)
}

/// The hash of leaves `lo..hi`, with `lo` a multiple of the largest power of two not over
/// `hi - lo`: complete subtrees from the left, folded from the right.
fn range_hash(lo: u64, hi: u64, hash: &mut impl FnMut(Node) -> Hash) -> Hash {
    let mut nodes = Vec::new();
    let mut start = lo;
    while start < hi {
        let level = (hi - start).ilog2().min(start.trailing_zeros()) as u8;
        nodes.push(hash(Node {
            level,
            index: start >> level,
        }));
        start += 1 << level;
    }
    let mut folded = nodes.pop().expect("a non-empty range");
    while let Some(left) = nodes.pop() {
        folded = node_hash(&left, &folded);
    }
    folded
}

/// The root hash of the first `n` records (n > 0).
#[cfg(test)]
pub fn tree_hash(n: u64, mut hash: impl FnMut(Node) -> Hash) -> Hash {
    range_hash(0, n, &mut hash)
}

/// The proof that record `n` is in the tree of `t` records: sibling hashes, lowest first.
pub fn record_proof(t: u64, n: u64, mut hash: impl FnMut(Node) -> Hash) -> Vec<Hash> {
    fn prove(lo: u64, hi: u64, n: u64, proof: &mut Vec<Hash>, hash: &mut impl FnMut(Node) -> Hash) {
        if hi - lo == 1 {
            return;
        }
        let (k, _) = split_point(hi - lo);
        if n < lo + k {
            prove(lo, lo + k, n, proof, hash);
            proof.push(range_hash(lo + k, hi, hash));
        } else {
            prove(lo + k, hi, n, proof, hash);
            proof.push(range_hash(lo, lo + k, hash));
        }
    }
    let mut proof = Vec::new();
    prove(0, t, n, &mut proof, &mut hash);
    proof
}

/// Whether `proof` shows the record hashing to `leaf` is record `n` of the tree `t` with root
/// `root`.
pub fn check_record(proof: &[Hash], t: u64, root: &Hash, n: u64, leaf: &Hash) -> bool {
    fn run(proof: &[Hash], lo: u64, hi: u64, n: u64, leaf: &Hash) -> Option<Hash> {
        if hi - lo == 1 {
            return proof.is_empty().then_some(*leaf);
        }
        let (sibling, rest) = proof.split_last()?;
        let (k, _) = split_point(hi - lo);
        Some(if n < lo + k {
            node_hash(&run(rest, lo, lo + k, n, leaf)?, sibling)
        } else {
            node_hash(sibling, &run(rest, lo + k, hi, n, leaf)?)
        })
    }
    n < t && run(proof, 0, t, n, leaf).as_ref() == Some(root)
}

/// The proof that the tree of `n` records is a prefix of the tree of `t` records (0 < n ≤ t).
pub fn tree_proof(t: u64, n: u64, mut hash: impl FnMut(Node) -> Hash) -> Vec<Hash> {
    fn prove(lo: u64, hi: u64, n: u64, proof: &mut Vec<Hash>, hash: &mut impl FnMut(Node) -> Hash) {
        if n == hi {
            if lo != 0 {
                proof.push(range_hash(lo, hi, hash));
            }
            return;
        }
        let (k, _) = split_point(hi - lo);
        if n <= lo + k {
            prove(lo, lo + k, n, proof, hash);
            proof.push(range_hash(lo + k, hi, hash));
        } else {
            prove(lo + k, hi, n, proof, hash);
            proof.push(range_hash(lo, lo + k, hash));
        }
    }
    let mut proof = Vec::new();
    prove(0, t, n, &mut proof, &mut hash);
    proof
}

/// What a tree proof between an older and a newer head shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    Consistent,
    /// The proof does not lead to the newer root: its hashes are wrong.
    BadProof,
    /// The proof leads to the newer root, but the newer tree's first `n` records do not hash
    /// to the older root: the two heads are of different logs.
    Fork,
}

/// Checks `proof` that the tree `n`/`old` is a prefix of the tree `t`/`root`.
pub fn check_tree(proof: &[Hash], t: u64, root: &Hash, n: u64, old: &Hash) -> Consistency {
    /// The older and the newer root the proof leads to.
    fn run(proof: &[Hash], lo: u64, hi: u64, n: u64, old: &Hash) -> Option<(Hash, Hash)> {
        if n == hi {
            return match (lo, proof) {
                (0, []) => Some((*old, *old)),
                (0, _) => None,
                (_, [only]) => Some((*only, *only)),
                _ => None,
            };
        }
        let (sibling, rest) = proof.split_last()?;
        let (k, _) = split_point(hi - lo);
        Some(if n <= lo + k {
            let (older, newer) = run(rest, lo, lo + k, n, old)?;
            (older, node_hash(&newer, sibling))
        } else {
            let (older, newer) = run(rest, lo + k, hi, n, old)?;
            (node_hash(sibling, &older), node_hash(sibling, &newer))
        })
    }
    if n == 0 || n > t {
        return Consistency::BadProof;
    }
    match run(proof, 0, t, n, old) {
        Some((_, newer)) if newer != *root => Consistency::BadProof,
        None => Consistency::BadProof,
        Some((older, _)) if older != *old => Consistency::Fork,
        Some(_) => Consistency::Consistent,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    pub(crate) struct Vectors {
        pub name: String,
        pub verifier_key: String,
        pub other_key: String,
        pub log: Log,
        pub fork: Log,
        pub lookups: Vec<Lookup>,
        record_proofs: Vec<Proof>,
        tree_proofs: Vec<Proof>,
        tile_paths: Vec<TilePath>,
        pub other_signed: String,
        pub both_signed: String,
        leaf_hash: String,
        node_hash: String,
    }

    #[derive(Deserialize, Clone)]
    pub(crate) struct Log {
        pub records: Vec<String>,
        pub heads: Vec<Head>,
        /// Tile path to base64 of its data.
        pub tiles: HashMap<String, String>,
    }

    #[derive(Deserialize, Clone)]
    pub(crate) struct Head {
        pub n: u64,
        pub hash: String,
        pub note: String,
    }

    #[derive(Deserialize)]
    pub(crate) struct Lookup {
        pub module: String,
        pub version: String,
        pub body: String,
    }

    #[derive(Deserialize)]
    struct Proof {
        tree: u64,
        index: u64,
        proof: Vec<String>,
    }

    #[derive(Deserialize)]
    struct TilePath {
        l: i8,
        n: u64,
        w: u16,
        path: String,
    }

    /// The vectors x/mod made (tests/sumdb-vectors).
    pub(crate) fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../../testdata/sumdb-vectors.json")).unwrap()
    }

    pub(crate) fn hash(text: &str) -> Hash {
        STANDARD.decode(text).unwrap().try_into().unwrap()
    }

    impl Log {
        pub(crate) fn head(&self, n: u64) -> &Head {
            self.heads.iter().find(|head| head.n == n).unwrap()
        }

        pub(crate) fn tile(&self, path: &str) -> Vec<u8> {
            STANDARD.decode(&self.tiles[path]).unwrap()
        }

        /// Node hashes of the tree of `n` records, read from its tiles.
        fn hashes(&self, n: u64) -> impl FnMut(Node) -> Hash + '_ {
            move |node| {
                let (tile, range) = tile_for(node, n);
                let data = self.tile(&tile.path());
                assert_eq!(data.len(), tile.len());
                hash_of_run(&data[range.start * HASH_SIZE..range.end * HASH_SIZE])
            }
        }
    }

    #[test]
    fn hashes_as_x_mod_does() {
        let v = vectors();
        let leaf = record_hash(b"hello\n");
        assert_eq!(leaf, hash(&v.leaf_hash));
        assert_eq!(node_hash(&leaf, &leaf), hash(&v.node_hash));
        for head in &v.log.heads {
            assert_eq!(tree_hash(head.n, v.log.hashes(head.n)), hash(&head.hash));
        }
    }

    #[test]
    fn reads_tree_heads() {
        let v = vectors();
        let head = v.log.head(300);
        let text = format!("go.sum database tree\n300\n{}\n", head.hash);
        let tree = Tree::parse(&text).unwrap();
        assert_eq!((tree.n, tree.hash), (300, hash(&head.hash)));
        assert_eq!(Tree::parse(&format!("{text}extra line\n")), Some(tree));
        for bad in [
            text.replace("300", "0300"),
            text.replace("300", "-1"),
            text.replace("tree", "trees"),
            text.trim_end().to_owned(),
            text.replace(&head.hash, &head.hash[4..]),
        ] {
            assert_eq!(Tree::parse(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_tiles_as_x_mod_does() {
        for case in vectors().tile_paths {
            let tile = Tile {
                level: u8::try_from(case.l).ok(),
                index: case.n,
                width: case.w,
            };
            assert_eq!(tile.path(), case.path);
        }
    }

    #[test]
    fn record_proofs_match_x_mod_and_verify() {
        let v = vectors();
        for case in &v.record_proofs {
            let proof = record_proof(case.tree, case.index, v.log.hashes(case.tree));
            let expected: Vec<Hash> = case.proof.iter().map(|h| hash(h)).collect();
            assert_eq!(proof, expected, "tree {} record {}", case.tree, case.index);
            let root = hash(&v.log.head(case.tree).hash);
            let leaf = record_hash(v.log.records[case.index as usize].as_bytes());
            assert!(check_record(&proof, case.tree, &root, case.index, &leaf));

            // Another record's hash, another position, or an altered proof do not verify.
            let other = record_hash(v.log.records[(case.index as usize + 1) % 300].as_bytes());
            assert!(!check_record(&proof, case.tree, &root, case.index, &other));
            if case.tree > 1 {
                let moved = (case.index + 1) % case.tree;
                assert!(!check_record(&proof, case.tree, &root, moved, &leaf));
                let mut altered = proof.clone();
                altered[0][0] ^= 1;
                assert!(!check_record(&altered, case.tree, &root, case.index, &leaf));
                assert!(!check_record(
                    &proof[1..],
                    case.tree,
                    &root,
                    case.index,
                    &leaf
                ));
            }
            assert!(!check_record(&proof, case.tree, &root, case.tree, &leaf));
        }
    }

    #[test]
    fn tree_proofs_match_x_mod_and_verify() {
        let v = vectors();
        for case in &v.tree_proofs {
            let proof = tree_proof(case.tree, case.index, v.log.hashes(case.tree));
            let expected: Vec<Hash> = case.proof.iter().map(|h| hash(h)).collect();
            assert_eq!(proof, expected, "tree {} from {}", case.tree, case.index);
            let root = hash(&v.log.head(case.tree).hash);
            let old = hash(&v.log.head(case.index).hash);
            assert_eq!(
                check_tree(&proof, case.tree, &root, case.index, &old),
                Consistency::Consistent
            );
            if !proof.is_empty() {
                let mut altered = proof.clone();
                altered[0][5] ^= 1;
                assert_ne!(
                    check_tree(&altered, case.tree, &root, case.index, &old),
                    Consistency::Consistent
                );
            }
        }
    }

    #[test]
    fn a_head_of_another_log_is_a_fork() {
        let v = vectors();
        let root = hash(&v.fork.head(300).hash);
        // The fork agrees with the log for 100 records and then differs.
        let proof = tree_proof(300, 100, v.fork.hashes(300));
        let shared = hash(&v.log.head(100).hash);
        assert_eq!(
            check_tree(&proof, 300, &root, 100, &shared),
            Consistency::Consistent
        );
        let proof = tree_proof(300, 200, v.fork.hashes(300));
        let old = hash(&v.log.head(200).hash);
        assert_eq!(check_tree(&proof, 300, &root, 200, &old), Consistency::Fork);
        // The log's own proof does not lead to the fork's root.
        let proof = tree_proof(300, 200, v.log.hashes(300));
        assert_eq!(
            check_tree(&proof, 300, &root, 200, &old),
            Consistency::BadProof
        );
    }

    #[test]
    fn a_tile_with_a_wrong_hash_breaks_the_proof() {
        let v = vectors();
        let root = hash(&v.log.head(300).hash);
        let leaf = record_hash(v.log.records[17].as_bytes());
        let mut good = v.log.hashes(300);
        let proof = record_proof(300, 17, |node| {
            let (tile, range) = tile_for(node, 300);
            let mut hash = good(node);
            if tile.path() == "tile/8/0/000" && range.contains(&18) {
                hash[0] ^= 1;
            }
            hash
        });
        assert!(!check_record(&proof, 300, &root, 17, &leaf));
    }
}
