//! Loading a [`RouteTable`] from text, or from a reader while it is read,
//! on parser threads that share the table's attribute sets.

use super::error::{column_of, RouteError, RouteErrorKind};
use super::syntax::{check_next_hop_family, parse_prefix, prefix_of, AttributeSpec};
use super::table::{RouteTable, Sets, Texts};
use crate::bgp::config::AttributeOverrides;
use std::net::IpAddr;
use std::sync::Mutex;

impl RouteTable {
    /// Adds one route per line (`PREFIX [attributes]`, see the module),
    /// skipping blank lines and `#` comments. A bad line is refused with
    /// its number, and then nothing of `text` is added.
    /// A large text is parsed in parts taken in turn by one thread per core
    /// (up to 8), sharing one set of attribute sets.
    pub fn parse_lines(&mut self, text: &str) -> Result<(), RouteError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        // More parts than threads, taken in turn, so that a thread with
        // quick lines (IPv4) does not wait for one with slow ones.
        let parts = split_lines(text, threads * PARTS_PER_THREAD, PARALLEL_PART);
        let interner = Mutex::new(std::mem::take(&mut self.sets));
        if parts.len() <= 1 || threads == 1 {
            let (plain, own) = (self.plain.len(), self.own.len());
            let r = self.parse_lines_from(text, &interner);
            self.sets = interner.into_inner().unwrap_or_else(|e| e.into_inner());
            return r.map(|_| ()).map_err(|(line, e)| {
                self.plain.truncate(plain);
                self.own.truncate(own);
                e.at_line(line + 1)
            });
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            parse_parts(
                || {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    parts.get(k).map(|part| (k, *part))
                },
                |_| {},
                &interner,
            )
        };
        let done = std::thread::scope(|scope| {
            // This thread parses too; threads that cannot be had are done
            // without.
            let workers: Vec<_> = (1..threads.min(parts.len()))
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
                .collect();
            let mine = work();
            let mut done = joined(workers);
            done.push(mine);
            done
        });
        self.sets = interner.into_inner().unwrap_or_else(|e| e.into_inner());
        self.add_parts(done)
    }

    /// Adds one route per line read from `reader`, as
    /// [`parse_lines`](Self::parse_lines) does from a text, but parsing
    /// while reading: each part read goes to a parser thread while the next
    /// is read. A bad line (or text that is not UTF-8) is refused with its
    /// number, and then nothing is added.
    ///
    /// ```
    /// use cue::bgp::route::RouteTable;
    /// let mut t = RouteTable::default();
    /// t.parse_reader("10.0.0.0/24 med 10\n192.0.2.1\n".as_bytes()).unwrap();
    /// assert_eq!((t.len(), t.attribute_sets()), (2, 1));
    /// let e = t.parse_reader(&b"10.0.0.1\n\xff\n"[..]).unwrap_err();
    /// assert_eq!(e.to_string(), "line 2: not UTF-8 text");
    /// ```
    pub fn parse_reader(&mut self, reader: impl std::io::Read) -> Result<(), RouteError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        self.parse_reader_on(reader, threads)
    }

    /// [`parse_reader`](Self::parse_reader) with up to `threads` parser
    /// threads (none: read, then parsed on this one).
    fn parse_reader_on(
        &mut self,
        mut reader: impl std::io::Read,
        threads: usize,
    ) -> Result<(), RouteError> {
        let interner = Mutex::new(std::mem::take(&mut self.sets));
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(threads.max(1) * 2);
        let rx = Mutex::new(rx);
        // Parsed parts' buffers go back to the reader.
        let (back, given_back) = std::sync::mpsc::channel::<Vec<u8>>();
        let work = || {
            parse_parts(
                || rx.lock().unwrap_or_else(|e| e.into_inner()).recv().ok(),
                |buffer| {
                    let _ = back.send(buffer);
                },
                &interner,
            )
        };
        let (read, done) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
                .collect();
            if workers.is_empty() {
                // No thread to be had: read it all, then parse it here.
                let mut parts = std::collections::VecDeque::new();
                let read = read_chunks(&mut reader, Vec::new, |k, chunk| {
                    parts.push_back((k, chunk));
                    true
                });
                return (
                    read,
                    vec![parse_parts(|| parts.pop_front(), |_| {}, &interner)],
                );
            }
            let read = read_chunks(
                &mut reader,
                || read_buffer(&given_back),
                |k, chunk| tx.send((k, chunk)).is_ok(),
            );
            drop(tx);
            (read, joined(workers))
        });
        self.sets = interner.into_inner().unwrap_or_else(|e| e.into_inner());
        read.map_err(|e| RouteError::new(RouteErrorKind::Read(e.to_string())))?;
        self.add_parts(done)
    }

    /// Adds the parts the parser threads made, in order, with their text
    /// lookups; or, if a part has a bad line, nothing but the error of the
    /// first, numbered in the whole input.
    fn add_parts(&mut self, done: Vec<(Vec<ParsedPart>, Texts)>) -> Result<(), RouteError> {
        let mut parts = Vec::new();
        for (parsed, texts) in done {
            parts.extend(parsed);
            for (text, a) in texts {
                self.by_text.entry(text).or_insert(a);
            }
        }
        parts.sort_by_key(|(k, _)| *k);
        let mut lines = 0;
        let mut tables = Vec::with_capacity(parts.len());
        for (_, part) in parts {
            match part {
                Ok((t, ends)) => {
                    lines += ends;
                    tables.push(t);
                }
                Err((line, e)) => return Err(e.at_line(lines + line + 1)),
            }
        }
        self.append_parts(tables);
        Ok(())
    }

    /// Adds the routes of parts parsed apart, in order: one growth each,
    /// and the first part's lists taken as they are when there is nothing
    /// before them.
    fn append_parts(&mut self, tables: Vec<RouteTable>) {
        let (plain, own) = tables
            .iter()
            .fold((0, 0), |(p, o), t| (p + t.plain.len(), o + t.own.len()));
        for t in tables {
            if self.plain.is_empty() {
                self.plain = t.plain;
                self.plain.reserve(plain - self.plain.len());
            } else {
                self.plain.extend(t.plain);
            }
            if self.own.is_empty() {
                self.own = t.own;
                self.own.reserve(own - self.own.len());
            } else {
                self.own.extend(t.own);
            }
        }
    }

    /// Parses `text`; new attribute sets are interned in `interner`.
    /// Returns how many line ends `text` has; an error comes with the
    /// number of its line in `text`, from 0.
    fn parse_lines_from(
        &mut self,
        text: &str,
        interner: &Mutex<Sets>,
    ) -> Result<usize, (usize, RouteError)> {
        // A host route takes 8 to 40 characters a line: reserve for the
        // short end, for the first kind of line seen.
        let reserve = text.len() / 16;
        // Routes of real tables come in runs that share attributes: the
        // last set is tried before the map.
        let mut last: Option<(&str, (u32, Option<IpAddr>))> = None;
        let mut line_ends = 0;
        for (i, raw) in text.split('\n').enumerate() {
            line_ends = i;
            let line = match memchr::memchr(b'#', raw.as_bytes()) {
                Some(at) => &raw[..at],
                None => raw,
            }
            .trim_ascii();
            if line.is_empty() {
                continue;
            }
            let at = |e: RouteError| (i, e);
            let (first, rest) = match line.bytes().position(|b| b.is_ascii_whitespace()) {
                Some(n) => (&line[..n], line[n..].trim_ascii_start()),
                None => (line, ""),
            };
            let Some(prefix) = prefix_of(first) else {
                let e = parse_prefix(first).expect_err("not a prefix");
                return Err(at(RouteError {
                    column: column_of(raw, first),
                    ..e
                }));
            };
            if rest.is_empty() {
                if self.plain.capacity() == 0 {
                    self.plain.reserve(reserve);
                }
                self.plain.push(prefix);
                continue;
            }
            let (set, next_hop) = match last {
                Some((text, found)) if text == rest => found,
                _ => {
                    let found = match self.by_text.get(rest) {
                        Some(&found) => found,
                        None => {
                            let indent = column_of(raw, rest).unwrap_or(1) - 1;
                            let spec: AttributeSpec = rest
                                .parse()
                                .map_err(|e: RouteError| at(e.shifted(indent).of(prefix)))?;
                            let value = AttributeOverrides::from_spec(&spec);
                            let next_hop = value.next_hop;
                            let n = interner
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .intern(value);
                            self.by_text.insert(rest.to_string(), (n, next_hop));
                            (n, next_hop)
                        }
                    };
                    last = Some((rest, found));
                    found
                }
            };
            if next_hop.is_some() {
                check_next_hop_family(prefix, next_hop).map_err(at)?;
            }
            if self.own.capacity() == 0 {
                self.own.reserve(reserve / 4);
            }
            self.own.push((prefix, set));
        }
        Ok(line_ends)
    }
}

/// A part of a text parsed: its number, and its routes with its number of
/// line ends, or the error of one of its lines (numbered from 0 in the
/// part).
type ParsedPart = (usize, Result<(RouteTable, usize), (usize, RouteError)>);

/// A part of the input for a parser thread: a slice of a text, or bytes
/// read.
trait Part {
    /// The part as text, or the number of the line (from 0 in the part)
    /// that is not UTF-8.
    fn text(&self) -> Result<&str, (usize, RouteError)>;
}

impl Part for &str {
    fn text(&self) -> Result<&str, (usize, RouteError)> {
        Ok(self)
    }
}

impl Part for Vec<u8> {
    fn text(&self) -> Result<&str, (usize, RouteError)> {
        std::str::from_utf8(self).map_err(|e| {
            let line = memchr::memchr_iter(b'\n', &self[..e.valid_up_to()]).count();
            (line, RouteErrorKind::NotUtf8.into())
        })
    }
}

/// A parser thread: parses the parts `next` hands out, with their numbers,
/// until there are none, keeping its text lookups from part to part.
/// Each part goes to `done_with` once parsed (a read buffer goes back to
/// the reader).
fn parse_parts<P: Part>(
    mut next: impl FnMut() -> Option<(usize, P)>,
    mut done_with: impl FnMut(P),
    interner: &Mutex<Sets>,
) -> (Vec<ParsedPart>, Texts) {
    let mut texts = Texts::default();
    let mut done = Vec::new();
    while let Some((k, part)) = next() {
        let mut t = RouteTable {
            by_text: std::mem::take(&mut texts),
            ..Default::default()
        };
        let r = part
            .text()
            .and_then(|text| t.parse_lines_from(text, interner));
        texts = std::mem::take(&mut t.by_text);
        done.push((k, r.map(|ends| (t, ends))));
        done_with(part);
    }
    (done, texts)
}

/// What the parser threads made; a thread that failed counts as an error
/// in the first part.
fn joined(
    workers: Vec<std::thread::ScopedJoinHandle<'_, (Vec<ParsedPart>, Texts)>>,
) -> Vec<(Vec<ParsedPart>, Texts)> {
    workers
        .into_iter()
        .map(|h| {
            h.join().unwrap_or_else(|_| {
                let failed = Err((
                    0,
                    RouteErrorKind::Read("a parser thread failed".into()).into(),
                ));
                (vec![(0, failed)], Texts::default())
            })
        })
        .collect()
}

/// Parts of a large text per parser thread.
const PARTS_PER_THREAD: usize = 4;

/// The smallest part of a text worth a thread of its own.
const PARALLEL_PART: usize = 2 << 20;

/// Bytes read before a part goes to a parser thread.
const READ_PART: usize = 4 << 20;

/// Room in a read buffer for the partial line carried from the part
/// before.
const CARRY_ROOM: usize = 64 << 10;

/// A buffer to read a part into: one a parser thread gave back, or a new
/// one (fresh memory costs a page fault per page: a 67 MB file read into
/// new buffers spends more time there than in the copy).
fn read_buffer(back: &std::sync::mpsc::Receiver<Vec<u8>>) -> Vec<u8> {
    match back.try_recv() {
        Ok(mut b) => {
            b.clear();
            b
        }
        Err(_) => Vec::with_capacity(READ_PART + CARRY_ROOM),
    }
}

/// Reads `reader` to its end in parts of whole lines (about
/// [`READ_PART`] bytes; a longer line makes a longer part), each into a
/// buffer from `buffer` (empty), handing each to `send` with its number;
/// stops early when `send` says no.
fn read_chunks(
    reader: &mut impl std::io::Read,
    mut buffer: impl FnMut() -> Vec<u8>,
    mut send: impl FnMut(usize, Vec<u8>) -> bool,
) -> std::io::Result<()> {
    let mut carry = Vec::new();
    for k in 0.. {
        let mut part = buffer();
        part.extend_from_slice(&carry);
        carry.clear();
        let wanted = READ_PART as u64;
        let mut limited = std::io::Read::take(&mut *reader, wanted);
        let eof = std::io::Read::read_to_end(&mut limited, &mut part)? < READ_PART;
        if !eof {
            // The partial line at the end goes with the next part.
            match memchr::memrchr(b'\n', &part) {
                Some(end) => {
                    carry.extend_from_slice(&part[end + 1..]);
                    part.truncate(end + 1);
                }
                None => {
                    carry = part;
                    continue;
                }
            }
        }
        if !send(k, part) || eof {
            break;
        }
    }
    Ok(())
}

/// Splits `text` at line ends into at most `n` parts of at least `min`
/// bytes each.
fn split_lines(text: &str, n: usize, min: usize) -> Vec<&str> {
    let n = n.min(text.len() / min.max(1)).max(1);
    let mut parts = Vec::with_capacity(n);
    let mut rest = text;
    for k in (1..=n).rev() {
        if k == 1 {
            parts.push(rest);
            break;
        }
        let at = rest.len() / k;
        let end = match memchr::memchr(b'\n', &rest.as_bytes()[at..]) {
            Some(i) => at + i + 1,
            None => rest.len(),
        };
        let (part, tail) = rest.split_at(end);
        parts.push(part);
        rest = tail;
        if rest.is_empty() {
            break;
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn large_tables_parse_in_parts_with_shared_attribute_sets() {
        let mut text = String::new();
        for i in 0..200_000u32 {
            let [_, b, c, d] = i.to_be_bytes();
            text.push_str(&format!("10.{b}.{c}.{d} med {} community 65000:1\n", i % 7));
        }
        assert!(
            split_lines(&text, 2, PARALLEL_PART).len() == 2,
            "{} bytes",
            text.len()
        );
        let mut t = RouteTable::default();
        t.parse_lines(&text).unwrap();
        assert_eq!(t.attribute_sets(), 7);
        let (rib, own) = t.finish();
        assert_eq!((rib.len(), own.len()), (200_000, 200_000));
        let first = &own[&"10.0.0.0/32".parse().unwrap()];
        let last = &own[&"10.3.13.63/32".parse().unwrap()]; // 199999 = 7 * 28571 + 2
        let same = &own[&"10.3.13.61/32".parse().unwrap()]; // 199997, 0 mod 7
        assert_eq!(first.med, Some(0));
        assert_eq!(last.med, Some(2));
        assert!(Arc::ptr_eq(first, same), "one set across the parts");
        // An error in the second part names its line in the whole text.
        let bad = text.replacen("10.2.73.240 med 4", "10.2.73.240 med four", 1);
        let e = RouteTable::default().parse_lines(&bad).unwrap_err();
        let e = e.to_string();
        assert!(
            e.starts_with("line 150001, column 17: 10.2.73.240/32: med"),
            "{e}"
        );
        // A prefix twice: its last attributes.
        let mut t = RouteTable::default();
        t.parse_lines("10.0.0.1 med 1\n10.0.0.1\n10.0.0.1 med 2\n10.0.0.2\n")
            .unwrap();
        let (rib, own) = t.finish();
        assert_eq!(rib.len(), 2);
        assert_eq!(own[&"10.0.0.1/32".parse().unwrap()].med, Some(2));
    }

    /// Hands out at most 1,000 bytes a read, as a pipe may.
    struct Trickle<'a>(&'a [u8]);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(1000);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn tables_read_in_parts_match_tables_parsed_whole() {
        // Over three read parts, lines of both kinds, comments, no final
        // line end.
        let mut text = String::new();
        for i in 0..600_000u32 {
            let [_, b, c, d] = i.to_be_bytes();
            match i % 3 {
                0 => text.push_str(&format!("10.{b}.{c}.{d}\n")),
                1 => text.push_str(&format!(
                    "fd00::{:x}:{:x} med {} # note\n",
                    i >> 16,
                    i & 0xffff,
                    i % 11
                )),
                _ => text.push_str(&format!("10.{b}.{c}.{d}/32 community 65000:{}\n", i % 5)),
            }
        }
        text.push_str("192.0.2.1 med 1");
        assert!(text.len() > 3 * READ_PART, "{} bytes", text.len());
        let mut whole = RouteTable::default();
        whole.parse_lines(&text).unwrap();
        let mut read = RouteTable::default();
        read.parse_reader(Trickle(text.as_bytes())).unwrap();
        assert_eq!(read.attribute_sets(), whole.attribute_sets());
        assert_eq!(read.attribute_sets(), 16); // 11 MEDs, 5 communities
        let (a, b) = (whole.finish(), read.finish());
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        assert_eq!(a.0.len(), 600_001);
        // An error in a late part names its line in the whole input, and
        // nothing is added; so does text that is not UTF-8.
        // Line 555,557 (i = 555,556, 1 mod 3), in the fourth part.
        let bad = text.replacen("fd00::8:7a24 med", "fd00::8:7a24 mad", 1);
        let at = text.find("fd00::8:7a24 med").unwrap();
        let line = 1 + text[..at].matches('\n').count();
        assert_eq!(line, 555_557);
        // Without a parser thread (none could be started): the same.
        let mut alone = RouteTable::default();
        alone.parse_reader_on(Trickle(text.as_bytes()), 0).unwrap();
        assert_eq!(alone.finish(), a);
        let mut t = RouteTable::default();
        let e = t.parse_reader(Trickle(bad.as_bytes())).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("line {line}, column 14: fd00::8:7a24/128")),
            "{e}"
        );
        assert!(t.is_empty());
        let mut bytes = text.clone().into_bytes();
        let at = text.find("10.4.0.2\n").unwrap();
        bytes[at + 3] = 0xff;
        let line = 1 + text[..at].matches('\n').count();
        let e = RouteTable::default().parse_reader(&bytes[..]).unwrap_err();
        assert_eq!(e.to_string(), format!("line {line}: not UTF-8 text"));
        // A line longer than a read part.
        let long = format!(
            "10.0.0.1 {}community 65000:1\n10.0.0.2\n",
            " ".repeat(READ_PART + 10)
        );
        let mut t = RouteTable::default();
        t.parse_reader(long.as_bytes()).unwrap();
        assert_eq!((t.len(), t.attribute_sets()), (2, 1));
    }

    #[test]
    fn splitting_at_line_ends() {
        let text = "a\nbb\nccc\ndddd\n";
        let parts = split_lines(text, 3, 4);
        let joined: String = parts.concat();
        assert_eq!(joined, text);
        assert!(parts.iter().all(|p| p.ends_with('\n')));
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(split_lines("short", 8, 4).len(), 1);
        assert_eq!(split_lines("", 8, 4), vec![""]);
    }
}
