//! The alignment of two texts: the stretches where they differ, found by
//! a longest common subsequence around the words both use once.

use super::MAX_ALIGN_TOKENS;
use super::doc::{Prehashed, hash_of};
use std::collections::HashMap;

/// One aligned stretch where the two sequences differ.
pub(super) struct Change {
    pub(super) a: std::ops::Range<usize>,
    pub(super) b: std::ops::Range<usize>,
}

/// The differing stretches of `a` and `b`, in order.
///
/// Aligned as patience diff does: the tokens that occur once in each text
/// and in the same order in both (a longest increasing subsequence) are
/// fixed first, and only the gaps between them go through a longest common
/// subsequence table. Copies of one story share most such tokens, so the
/// gaps, and the quadratic work, stay small. Hand-written: only the changed
/// stretches are needed, over token hashes, which is less than a diff
/// crate's API around them.
pub(super) fn changes(a: &[&str], b: &[&str]) -> Vec<Change> {
    let a: Vec<u64> = a.iter().map(|t| hash_of(t)).collect();
    let b: Vec<u64> = b.iter().map(|t| hash_of(t)).collect();
    changes_hashed(&a, &b)
}

/// `changes` of two sequences given as their tokens' `hash_of`, for a
/// caller that has hashed them already (for shingles).
pub(super) fn changes_hashed(a: &[u64], b: &[u64]) -> Vec<Change> {
    let mut out = Vec::new();
    let (mut ia, mut ib) = (0, 0);
    for (pa, pb) in unique_anchors(a, b) {
        lcs_changes(&a[ia..pa], &b[ib..pb], ia, ib, &mut out);
        (ia, ib) = (pa + 1, pb + 1);
    }
    lcs_changes(&a[ia..], &b[ib..], ia, ib, &mut out);
    out
}

/// Positions `(in a, in b)` of the tokens that occur exactly once in each,
/// keeping the longest run that is in the same order in both.
pub(super) fn unique_anchors(a: &[u64], b: &[u64]) -> Vec<(usize, usize)> {
    // token -> (count in a, position in a, count in b, position in b)
    let mut seen: HashMap<u64, (u32, usize, u32, usize), std::hash::BuildHasherDefault<Prehashed>> =
        HashMap::with_capacity_and_hasher(a.len(), Default::default());
    for (i, t) in a.iter().enumerate() {
        let e = seen.entry(*t).or_insert((0, i, 0, 0));
        e.0 += 1;
    }
    for (j, t) in b.iter().enumerate() {
        if let Some(e) = seen.get_mut(t) {
            e.2 += 1;
            e.3 = j;
        }
    }
    let mut pairs: Vec<(usize, usize)> = seen
        .values()
        .filter(|e| e.0 == 1 && e.2 == 1)
        .map(|e| (e.1, e.3))
        .collect();
    pairs.sort_unstable();
    // Longest increasing subsequence of the positions in b (patience
    // sorting): tails[k] is the pair ending the best run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut prev: Vec<Option<usize>> = vec![None; pairs.len()];
    for (i, &(_, pb)) in pairs.iter().enumerate() {
        let k = tails.partition_point(|&t| pairs[t].1 < pb);
        if k > 0 {
            prev[i] = Some(tails[k - 1]);
        }
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut run = Vec::with_capacity(tails.len());
    let mut at = tails.last().copied();
    while let Some(i) = at {
        run.push(pairs[i]);
        at = prev[i];
    }
    run.reverse();
    run
}

/// The differing stretches of `a` and `b` (starting at `oa` and `ob` in the
/// whole texts) along a longest common subsequence.
pub(super) fn lcs_changes(a: &[u64], b: &[u64], oa: usize, ob: usize, out: &mut Vec<Change>) {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let ea = (a.len() - suf).min(pre + MAX_ALIGN_TOKENS);
    let eb = (b.len() - suf).min(pre + MAX_ALIGN_TOKENS);
    let (x, y) = (&a[pre..ea], &b[pre..eb]);
    let (n, m) = (x.len(), y.len());
    let (oa, ob) = (oa + pre, ob + pre);
    if n == 0 || m == 0 {
        if n + m > 0 {
            out.push(Change {
                a: oa..oa + n,
                b: ob..ob + m,
            });
        }
        return;
    }
    // l[i][j]: length of the LCS of x[i..] and y[j..].
    let w = m + 1;
    let mut l = vec![0u16; (n + 1) * w];
    for i in (0..n).rev() {
        let (upper, lower) = l.split_at_mut((i + 1) * w);
        let (row, below) = (&mut upper[i * w..], &lower[..w]);
        let xi = x[i];
        for j in (0..m).rev() {
            row[j] = if xi == y[j] {
                below[j + 1] + 1
            } else {
                below[j].max(row[j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut start: Option<(usize, usize)> = None;
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            if let Some((si, sj)) = start.take() {
                out.push(Change {
                    a: oa + si..oa + i,
                    b: ob + sj..ob + j,
                });
            }
            i += 1;
            j += 1;
            continue;
        }
        start.get_or_insert((i, j));
        if j >= m || (i < n && l[(i + 1) * w + j] >= l[i * w + j + 1]) {
            i += 1;
        } else {
            j += 1;
        }
    }
    if let Some((si, sj)) = start {
        out.push(Change {
            a: oa + si..oa + n,
            b: ob + sj..ob + m,
        });
    }
}
