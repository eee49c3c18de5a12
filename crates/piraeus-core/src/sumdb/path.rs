//! The checksum-database paths the go command asks a proxy for, parsed strictly: everything
//! after `/sumdb/<name>/`, as golang.org/x/mod/sumdb's client builds it and its server parses it.
//! What comes out is safe as a storage key, an index key and the path of a request to the
//! database.

use crate::error::{Error, Result};
use crate::golang::path::{self, quoted};

/// The endpoints of a proxied checksum database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `supported`: whether this proxy proxies the database (the go command's first question).
    Supported,
    /// `latest`: the database's latest signed tree head.
    Latest,
    /// `lookup/$module@$version`: the version's go.sum lines and a signed tree head.
    Lookup { module: String, version: String },
    /// `tile/$H/$L/$N[.p/$W]` and `tile/$H/data/$N[.p/$W]`.
    Tile(Tile),
}

impl Endpoint {
    /// Parses what follows `/sumdb/<name>/` (percent-decoded already).
    pub(crate) fn parse(rest: &str) -> Result<Self> {
        match rest {
            "supported" => return Ok(Endpoint::Supported),
            "latest" => return Ok(Endpoint::Latest),
            _ => {}
        }
        if let Some(target) = rest.strip_prefix("lookup/") {
            let Some((escaped_module, escaped_version)) = target.split_once('@') else {
                return Err(Error::invalid(format!(
                    "malformed lookup {}: expected module@version",
                    quoted(target)
                )));
            };
            let module = path::unescape(escaped_module)?;
            let version = path::unescape(escaped_version)?;
            path::check_version_for_path(&module, &version)?;
            return Ok(Endpoint::Lookup { module, version });
        }
        if rest.starts_with("tile/") {
            return Tile::parse(rest).map(Endpoint::Tile);
        }
        Err(Error::not_found(format!(
            "{} is not a checksum database endpoint: expected supported, latest, lookup/ or tile/",
            quoted(rest)
        )))
    }

    /// The module a lookup names; the other endpoints name none.
    pub(crate) fn module(&self) -> Option<&str> {
        match self {
            Endpoint::Lookup { module, .. } => Some(module),
            _ => None,
        }
    }

    /// The path under the database's URL (and the proxy's `/sumdb/<name>/`), in the escaped
    /// form the go command sends: also how the answer is keyed in the index and the store.
    pub(crate) fn path(&self) -> String {
        match self {
            Endpoint::Supported => "supported".to_string(),
            Endpoint::Latest => "latest".to_string(),
            Endpoint::Lookup { module, version } => {
                format!("lookup/{}@{}", path::escape(module), path::escape(version))
            }
            Endpoint::Tile(tile) => tile.path(),
        }
    }

    /// The route's name in logs and metrics.
    pub(crate) fn route_name(&self) -> &'static str {
        match self {
            Endpoint::Supported => "sumdb-supported",
            Endpoint::Latest => "sumdb-latest",
            Endpoint::Lookup { .. } => "sumdb-lookup",
            Endpoint::Tile(_) => "sumdb-tile",
        }
    }
}

/// Highest tile height golang.org/x/mod/sumdb/tlog accepts.
const MAX_HEIGHT: u32 = 30;

/// One tile of the log (tlog.Tile): `height` levels of the hash tree, at tile level `level`
/// (`None` for a data tile: the records of the level-0 tile), the `index`th tile from the left,
/// holding its first `width` entries (all `2^height` of them for a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tile {
    pub height: u32,
    pub level: Option<u32>,
    pub index: u64,
    pub width: u64,
}

impl Tile {
    /// tlog.ParseTilePath, with tlog's own check that the path is exactly the tile's canonical
    /// path (no leading zeros, no stray `x`), plus the bound that a tile starts inside a log of
    /// at most 2^63 records.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let bad =
            |why: &str| Error::invalid(format!("malformed tile path {}: {why}", quoted(text)));
        let fields: Vec<&str> = text.split('/').collect();
        if fields.len() < 4 || fields[0] != "tile" {
            return Err(bad("expected tile/H/L/N[.p/W]"));
        }
        let height = small_number(fields[1])
            .filter(|height| (1..=MAX_HEIGHT).contains(height))
            .ok_or_else(|| bad("the height must be 1 to 30"))?;
        let level = match fields[2] {
            "data" => None,
            level => Some(small_number(level).ok_or_else(|| bad("the level is not a number"))?),
        };
        let full = 1u64 << height;
        let mut elements = fields[3..].to_vec();
        let mut width = full;
        if elements.len() >= 2
            && let Some(last_dir) = elements[elements.len() - 2].strip_suffix(".p")
        {
            width = small_number(elements[elements.len() - 1])
                .map(u64::from)
                .filter(|width| (1..full).contains(width))
                .ok_or_else(|| bad("a partial tile's width must be 1 to 2^H - 1"))?;
            elements.pop();
            let at = elements.len() - 1;
            elements[at] = last_dir;
        }
        let mut index: u64 = 0;
        for element in elements {
            let digits = element.strip_prefix('x').unwrap_or(element);
            let part = small_number(digits)
                .filter(|part| *part < 1000)
                .ok_or_else(|| bad("the tile number is malformed"))?;
            index = index
                .checked_mul(1000)
                .and_then(|index| index.checked_add(u64::from(part)))
                .ok_or_else(|| bad("the tile number is out of range"))?;
        }
        // A level-L tile's first entry covers records from index * 2^(H*(L+1)); a hash at level
        // H*L covers 2^(H*L) records. Neither can be past the largest possible log (2^63).
        let first_level = height * level.unwrap_or(0);
        let span = first_level + height;
        let in_range = first_level < 63
            && match span {
                ..63 => index < 1u64 << (63 - span),
                _ => index == 0,
            };
        if !in_range {
            return Err(bad("the tile is past the end of any log"));
        }
        let tile = Tile {
            height,
            level,
            index,
            width,
        };
        if tile.path() != text {
            return Err(bad("not the tile's canonical path"));
        }
        Ok(tile)
    }

    /// tlog.Tile.Path: `tile/H/L/x123/456[.p/W]`.
    pub(crate) fn path(&self) -> String {
        let mut n = self.index;
        let mut number = format!("{:03}", n % 1000);
        while n >= 1000 {
            n /= 1000;
            number = format!("x{:03}/{number}", n % 1000);
        }
        let level = match self.level {
            Some(level) => level.to_string(),
            None => "data".to_string(),
        };
        let partial = if self.is_full() {
            String::new()
        } else {
            format!(".p/{}", self.width)
        };
        format!("tile/{}/{level}/{number}{partial}", self.height)
    }

    /// Whether the tile holds all `2^height` entries: it never changes again.
    pub(crate) fn is_full(&self) -> bool {
        self.width == 1u64 << self.height
    }

    /// The full tile this one is a prefix of.
    pub(crate) fn full(&self) -> Self {
        Self {
            width: 1u64 << self.height,
            ..*self
        }
    }

    /// A hash tile's exact size in bytes (32 per hash); `None` for a data tile, whose records
    /// vary in length.
    pub(crate) fn hash_bytes(&self) -> Option<u64> {
        self.level.map(|_| self.width * 32)
    }
}

/// Decimal digits only (no sign, no spaces), at most 9 of them.
fn small_number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn tiles_round_trip_as_tlog_writes_them() {
        let cases = [
            ("tile/8/0/000", 8, Some(0), 0, 256),
            ("tile/8/0/001", 8, Some(0), 1, 256),
            ("tile/8/1/x001/234", 8, Some(1), 1234, 256),
            ("tile/8/0/x001/x234/067.p/1", 8, Some(0), 1_234_067, 1),
            ("tile/8/2/000.p/255", 8, Some(2), 0, 255),
            ("tile/8/data/x123/456", 8, None, 123_456, 256),
            ("tile/8/data/002.p/44", 8, None, 2, 44),
            ("tile/1/0/999.p/1", 1, Some(0), 999, 1),
            ("tile/30/0/000", 30, Some(0), 0, 1 << 30),
        ];
        for (path, height, level, index, width) in cases {
            let tile = Tile::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(
                tile,
                Tile {
                    height,
                    level,
                    index,
                    width
                },
                "{path}"
            );
            assert_eq!(tile.path(), path);
            assert_eq!(tile.is_full(), width == 1 << height, "{path}");
            assert_eq!(tile.full().path(), path.split(".p/").next().unwrap());
        }
        assert_eq!(
            Tile::parse("tile/8/0/000.p/3").unwrap().hash_bytes(),
            Some(96)
        );
        assert_eq!(Tile::parse("tile/8/data/000").unwrap().hash_bytes(), None);
    }

    #[test]
    fn malformed_and_out_of_range_tiles_are_refused() {
        for path in [
            "tile",
            "tile/8/0",
            "tile/8/0/",
            "tiles/8/0/000",
            "tile/0/0/000",
            "tile/31/0/000",
            "tile/08/0/000",
            "tile/+8/0/000",
            "tile/8/-1/000",
            "tile/8/00/000",
            "tile/8/x/000",
            "tile/8/0/1",
            "tile/8/0/0001",
            "tile/8/0/001/234",
            "tile/8/0/x000/234",
            "tile/8/0/xx01/234",
            "tile/8/0/x001/1000",
            "tile/8/0/x001/-34",
            "tile/8/0/000.p/0",
            "tile/8/0/000.p/256",
            "tile/8/0/000.p/01",
            "tile/8/0/000.p/",
            "tile/8/0/000.p",
            "tile/8/0/000/",
            "tile/8/0/000.p/5/6",
            "tile/8/8/001",
            "tile/8/7/x001/000",
            "tile/8/0/x999/x999/x999/x999/x999/x999/999",
            "tile/8/data/x100/x000/x000/x000/x000/000",
        ] {
            let error = Tile::parse(path).expect_err(path);
            assert_eq!(error.kind(), ErrorKind::Invalid, "{path}: {error}");
        }
        // The last tile that can exist at level 7 of height 8 is its first.
        assert!(Tile::parse("tile/8/7/000").is_ok());
    }

    #[test]
    fn endpoints_parse_and_keep_their_escaped_path() {
        assert_eq!(Endpoint::parse("supported").unwrap(), Endpoint::Supported);
        assert_eq!(Endpoint::parse("latest").unwrap(), Endpoint::Latest);
        let lookup = Endpoint::parse("lookup/github.com/!burnt!sushi/toml@v1.2.0").unwrap();
        assert_eq!(
            lookup,
            Endpoint::Lookup {
                module: "github.com/BurntSushi/toml".into(),
                version: "v1.2.0".into()
            }
        );
        assert_eq!(lookup.path(), "lookup/github.com/!burnt!sushi/toml@v1.2.0");
        assert_eq!(
            Endpoint::parse("lookup/example.com/m@v2.0.0+incompatible")
                .unwrap()
                .path(),
            "lookup/example.com/m@v2.0.0+incompatible"
        );
        let tile = Endpoint::parse("tile/8/1/x002/003.p/7").unwrap();
        assert_eq!(tile.path(), "tile/8/1/x002/003.p/7");
        assert_eq!(tile.route_name(), "sumdb-tile");
    }

    #[test]
    fn bad_lookups_are_invalid_and_unknown_endpoints_not_found() {
        for rest in [
            "lookup/",
            "lookup/example.com/m",
            "lookup/example.com/m@",
            "lookup/@v1.0.0",
            "lookup/example.com/M@v1.0.0",
            "lookup/example.com/m@v1.0",
            "lookup/example.com/m@master",
            "lookup/example.com/m@v1.0.0@v1.0.0",
            "lookup/example.com/m@v2.0.0",
            "lookup/example.com/m/v2@v1.0.0",
            "lookup/example.com/../m@v1.0.0",
            "lookup/-x.com/m@v1.0.0",
            "lookup/example.com/m@v1.0.0/go.mod",
            "lookup/example.com/m@-v1.0.0",
        ] {
            let error = Endpoint::parse(rest).expect_err(rest);
            assert_eq!(error.kind(), ErrorKind::Invalid, "{rest}: {error}");
        }
        for rest in [
            "",
            "lookup",
            "latest/",
            "supported/x",
            "tile",
            "x",
            "signed",
        ] {
            let error = Endpoint::parse(rest).expect_err(rest);
            assert_eq!(error.kind(), ErrorKind::NotFound, "{rest}: {error}");
        }
    }
}
