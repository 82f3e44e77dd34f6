//! AS_PATH (RFC 4271 section 4.3, RFC 6793 for 4-octet AS numbers and
//! AS4_PATH, RFC 5065 for confederation segments): its segments, how it is
//! written with 2- or 4-octet AS numbers, and AS4_PATH merged back in.

use super::reader::Reader;
use super::AS_TRANS;
use std::fmt;

/// AS_PATH segment types.
///
/// ```
/// use cue::bgp::wire::{AsPath, AsSegmentKind};
/// assert_eq!(AsPath::sequence(&[65001]).segments[0].kind, AsSegmentKind::Sequence);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AsSegmentKind {
    /// AS_SET (1).
    Set,
    /// AS_SEQUENCE (2).
    Sequence,
    /// AS_CONFED_SEQUENCE (3, RFC 5065).
    ConfedSequence,
    /// AS_CONFED_SET (4, RFC 5065).
    ConfedSet,
}

/// One AS_PATH segment.
///
/// ```
/// use cue::bgp::wire::{AsSegment, AsSegmentKind};
/// let s = AsSegment { kind: AsSegmentKind::Set, asns: vec![65010, 65020] };
/// assert_eq!(s.asns.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsSegment {
    /// Segment type.
    pub kind: AsSegmentKind,
    /// AS numbers in the segment.
    pub asns: Vec<u32>,
}

/// An AS_PATH (or AS4_PATH): a list of segments.
///
/// ```
/// use cue::bgp::wire::AsPath;
/// let p = AsPath::sequence(&[65001, 4_200_000_000]);
/// assert_eq!(p.to_string(), "65001 4200000000");
/// assert!(p.has_large_as(), "needs AS4_PATH towards a 2-octet peer");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AsPath {
    /// The segments, in order.
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE holding `asns` (empty for none).
    pub fn sequence(asns: &[u32]) -> AsPath {
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsSegment {
                kind: AsSegmentKind::Sequence,
                asns: asns.to_vec(),
            }],
        }
    }

    /// The path with `asn` in front `times` times, merged into a leading
    /// AS_SEQUENCE (RFC 4271 section 5.1.2).
    ///
    /// ```
    /// use cue::bgp::wire::AsPath;
    /// let p = AsPath::sequence(&[65010, 65020]).prepended(65001, 2);
    /// assert_eq!(p, AsPath::sequence(&[65001, 65001, 65010, 65020]));
    /// assert_eq!(AsPath::default().prepended(65001, 1), AsPath::sequence(&[65001]));
    /// ```
    pub fn prepended(&self, asn: u32, times: usize) -> AsPath {
        let mut p = self.clone();
        if times == 0 {
            return p;
        }
        match p.segments.first_mut() {
            Some(s) if s.kind == AsSegmentKind::Sequence && s.asns.len() + times <= 255 => {
                s.asns.splice(0..0, std::iter::repeat(asn).take(times));
            }
            _ => p.segments.insert(
                0,
                AsSegment {
                    kind: AsSegmentKind::Sequence,
                    asns: vec![asn; times],
                },
            ),
        }
        p
    }

    /// The path without its confederation segments (RFC 5065 section 5.3:
    /// they never leave the confederation).
    ///
    /// ```
    /// use cue::bgp::wire::{AsPath, AsSegment, AsSegmentKind};
    /// let mut p = AsPath::sequence(&[65010]);
    /// p.segments.insert(0, AsSegment { kind: AsSegmentKind::ConfedSequence, asns: vec![64512] });
    /// assert_eq!(p.without_confederation(), AsPath::sequence(&[65010]));
    /// ```
    pub fn without_confederation(&self) -> AsPath {
        AsPath {
            segments: self
                .segments
                .iter()
                .filter(|s| {
                    !matches!(
                        s.kind,
                        AsSegmentKind::ConfedSequence | AsSegmentKind::ConfedSet
                    )
                })
                .cloned()
                .collect(),
        }
    }

    /// Whether the path holds confederation segments (RFC 5065).
    pub fn has_confederation(&self) -> bool {
        self.segments.iter().any(|s| {
            matches!(
                s.kind,
                AsSegmentKind::ConfedSequence | AsSegmentKind::ConfedSet
            )
        })
    }

    /// Whether any AS number does not fit in two octets.
    pub fn has_large_as(&self) -> bool {
        self.segments
            .iter()
            .any(|s| s.asns.iter().any(|&a| a > u16::MAX as u32))
    }

    pub(super) fn decode(value: &[u8], four_octet: bool) -> Option<AsPath> {
        let width = if four_octet { 4 } else { 2 };
        let mut r = Reader::new(value);
        let mut segments = Vec::new();
        while !r.is_empty() {
            let kind = match r.u8()? {
                1 => AsSegmentKind::Set,
                2 => AsSegmentKind::Sequence,
                3 => AsSegmentKind::ConfedSequence,
                4 => AsSegmentKind::ConfedSet,
                _ => return None,
            };
            let count = r.u8()? as usize;
            if count == 0 {
                return None;
            }
            let raw = r.take(count * width)?;
            let asns = raw
                .chunks_exact(width)
                .map(|c| {
                    if four_octet {
                        u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]]) as u32
                    }
                })
                .collect();
            segments.push(AsSegment { kind, asns });
        }
        Some(AsPath { segments })
    }

    /// Encodes the segments; in 2-octet form, large ASes become AS_TRANS.
    pub(super) fn encode_value(&self, out: &mut Vec<u8>, four_octet: bool) {
        for seg in &self.segments {
            for chunk in seg.asns.chunks(255) {
                out.push(match seg.kind {
                    AsSegmentKind::Set => 1,
                    AsSegmentKind::Sequence => 2,
                    AsSegmentKind::ConfedSequence => 3,
                    AsSegmentKind::ConfedSet => 4,
                });
                out.push(chunk.len() as u8);
                for &asn in chunk {
                    if four_octet {
                        out.extend_from_slice(&asn.to_be_bytes());
                    } else {
                        let a = u16::try_from(asn).unwrap_or(AS_TRANS);
                        out.extend_from_slice(&a.to_be_bytes());
                    }
                }
            }
        }
    }

    /// Merges an AS4_PATH received from a 2-octet speaker (RFC 6793 section
    /// 4.2.3): the leading ASes of AS_PATH that AS4_PATH does not cover, then
    /// AS4_PATH.
    pub fn merge_as4(&self, as4: &AsPath) -> AsPath {
        let count = |p: &AsPath| -> usize {
            p.segments
                .iter()
                .map(|s| match s.kind {
                    AsSegmentKind::Sequence => s.asns.len(),
                    AsSegmentKind::Set => 1,
                    _ => 0,
                })
                .sum()
        };
        let (n, n4) = (count(self), count(as4));
        if n4 > n {
            return self.clone();
        }
        let mut keep = n - n4;
        let mut segments = Vec::new();
        for s in &self.segments {
            if keep == 0 {
                break;
            }
            match s.kind {
                AsSegmentKind::Sequence => {
                    let take = keep.min(s.asns.len());
                    segments.push(AsSegment {
                        kind: s.kind,
                        asns: s.asns[..take].to_vec(),
                    });
                    keep -= take;
                }
                AsSegmentKind::Set => {
                    segments.push(s.clone());
                    keep -= 1;
                }
                _ => segments.push(s.clone()),
            }
        }
        segments.extend(as4.segments.iter().cloned());
        AsPath { segments }
    }
}

impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.segments {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let list = seg
                .asns
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            match seg.kind {
                AsSegmentKind::Sequence => f.write_str(&list)?,
                AsSegmentKind::Set => write!(f, "{{{list}}}")?,
                AsSegmentKind::ConfedSequence => write!(f, "({list})")?,
                AsSegmentKind::ConfedSet => write!(f, "[{list}]")?,
            }
        }
        Ok(())
    }
}

/// In JSON, a path is its list of segments, each with its type and ASNs:
/// `[{"type": "sequence", "asns": [65001, 65002]}]` (`set`,
/// `confed-sequence`, `confed-set` for the others).
///
/// ```
/// use cue::bgp::wire::AsPath;
/// let json = serde_json::to_string(&AsPath::sequence(&[65001, 65002])).unwrap();
/// assert_eq!(json, r#"[{"type":"sequence","asns":[65001,65002]}]"#);
/// ```
impl serde::Serialize for AsPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.segments)
    }
}

impl serde::Serialize for AsSegment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("AsSegment", 2)?;
        st.serialize_field(
            "type",
            match self.kind {
                AsSegmentKind::Set => "set",
                AsSegmentKind::Sequence => "sequence",
                AsSegmentKind::ConfedSequence => "confed-sequence",
                AsSegmentKind::ConfedSet => "confed-set",
            },
        )?;
        st.serialize_field("asns", &self.asns)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::wire::{DecodeContext, PathAttributes};

    fn ctx4() -> DecodeContext {
        DecodeContext::with_four_octet_as(true)
    }

    #[test]
    fn as_path_two_and_four_octets() {
        let attrs = PathAttributes {
            as_path: Some(AsPath::sequence(&[65001, 4_200_000_000])),
            ..Default::default()
        };
        let mut four = Vec::new();
        attrs.encode(&mut four, ctx4());
        assert_eq!(
            four,
            [0x40, 2, 10, 2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x00]
        );
        let mut two = Vec::new();
        attrs.encode(&mut two, DecodeContext::default());
        assert_eq!(two, [0x40, 2, 6, 2, 2, 0xfd, 0xe9, 0x5b, 0xa0]);
        let decoded = PathAttributes::decode(&two, DecodeContext::default()).unwrap();
        assert_eq!(decoded.as_path, Some(AsPath::sequence(&[65001, 23456])));
    }

    #[test]
    fn as4_path_merge() {
        let p = AsPath::sequence(&[65001, 23456, 23456]);
        let p4 = AsPath::sequence(&[4_200_000_000, 4_200_000_001]);
        assert_eq!(
            p.merge_as4(&p4),
            AsPath::sequence_segments(&[&[65001], &[4_200_000_000, 4_200_000_001]])
        );
    }

    impl AsPath {
        fn sequence_segments(parts: &[&[u32]]) -> AsPath {
            AsPath {
                segments: parts
                    .iter()
                    .map(|p| AsSegment {
                        kind: AsSegmentKind::Sequence,
                        asns: p.to_vec(),
                    })
                    .collect(),
            }
        }
    }
}
