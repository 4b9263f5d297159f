//! Distinguished names as nats-server's `internal/ldap` package compares them
//! for `verify_and_map`: a user named `"CN=app,O=Acme"` matches a certificate
//! whose subject is those attributes, in that (RFC 2253, most specific first)
//! order — or, failing that, in any order of its RDNs. Attribute types compare
//! case-insensitively, values exactly.
//!
//! Pure data: parsed from a user name or a certificate's subject.

/// One attribute of a relative distinguished name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub typ: String,
    pub value: String,
}

/// A DN: RDNs most specific first, each a set of attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dn {
    pub rdns: Vec<Vec<Attr>>,
}

/// Why a user name is not a DN (go-ldap's texts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnError {
    CorruptEscape,
    BadHexEscape,
    BerEncoding,
    IncompletePair,
}

impl Dn {
    /// go-ldap's `ParseDN`: `type=value` pairs, `,` between RDNs, `+` inside
    /// one, `\` escapes (a character or two hex digits), spaces around
    /// values dropped unless escaped.
    pub fn parse(s: &str) -> Result<Dn, DnError> {
        let b = s.as_bytes();
        let mut dn = Dn::default();
        let mut rdn: Vec<Attr> = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut typ: Option<String> = None;
        let mut escaping = false;
        let mut trailing = 0usize;
        let take = |buf: &mut Vec<u8>, trailing: &mut usize| {
            let n = buf.len() - *trailing;
            let out = String::from_utf8_lossy(&buf[..n]).into_owned();
            buf.clear();
            *trailing = 0;
            out
        };
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if escaping {
                trailing = 0;
                escaping = false;
                if b" \"#+,;<=>\\".contains(&c) {
                    buf.push(c);
                    i += 1;
                    continue;
                }
                if i + 1 == b.len() {
                    return Err(DnError::CorruptEscape);
                }
                let hex = std::str::from_utf8(&b[i..i + 2]).map_err(|_| DnError::BadHexEscape)?;
                let v = u8::from_str_radix(hex, 16).map_err(|_| DnError::BadHexEscape)?;
                buf.push(v);
                i += 2;
                continue;
            }
            match c {
                b'\\' => {
                    trailing = 0;
                    escaping = true;
                }
                b'=' => {
                    typ = Some(take(&mut buf, &mut trailing));
                    if b.get(i + 1) == Some(&b'#') {
                        return Err(DnError::BerEncoding);
                    }
                }
                b',' | b'+' => {
                    rdn.push(pair(&mut typ, take(&mut buf, &mut trailing))?);
                    if c == b',' {
                        dn.rdns.push(std::mem::take(&mut rdn));
                    }
                }
                b' ' if buf.is_empty() => {}
                _ => {
                    if c == b' ' {
                        trailing += 1;
                    } else {
                        trailing = 0;
                    }
                    buf.push(c);
                }
            }
            i += 1;
        }
        if !buf.is_empty() {
            rdn.push(pair(&mut typ, take(&mut buf, &mut trailing))?);
            dn.rdns.push(rdn);
        }
        Ok(dn)
    }

    /// go-ldap's `Equal`: the same RDNs in the same order.
    pub fn equal(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self
                .rdns
                .iter()
                .zip(&other.rdns)
                .all(|(a, b)| rdn_equal(a, b))
    }

    /// go-ldap's `RDNsMatch`: the same RDNs in any order.
    pub fn rdns_match(&self, other: &Dn) -> bool {
        if self.rdns.len() != other.rdns.len() {
            return false;
        }
        let mut used = vec![false; other.rdns.len()];
        self.rdns.iter().all(|a| {
            match other
                .rdns
                .iter()
                .enumerate()
                .position(|(j, b)| !used[j] && rdn_equal(a, b))
            {
                Some(j) => {
                    used[j] = true;
                    true
                }
                None => false,
            }
        })
    }
}

/// The attribute whose type was read (and taken) and whose value ends here.
fn pair(typ: &mut Option<String>, value: String) -> Result<Attr, DnError> {
    match typ.take().filter(|t| !t.is_empty()) {
        Some(typ) => Ok(Attr { typ, value }),
        None => Err(DnError::IncompletePair),
    }
}

fn attr_equal(a: &Attr, b: &Attr) -> bool {
    a.typ.eq_ignore_ascii_case(&b.typ) && a.value == b.value
}

fn rdn_equal(a: &[Attr], b: &[Attr]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| b.iter().any(|y| attr_equal(x, y)))
        && b.iter().all(|x| a.iter().any(|y| attr_equal(x, y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(t: &str, v: &str) -> Attr {
        Attr {
            typ: t.into(),
            value: v.into(),
        }
    }

    #[test]
    fn parses_like_go_ldap() {
        let d = Dn::parse("CN=app, O=Acme\\, Inc+OU=ops ,C=US").unwrap();
        assert_eq!(
            d.rdns,
            vec![
                vec![a("CN", "app")],
                vec![a("O", "Acme, Inc"), a("OU", "ops")],
                vec![a("C", "US")]
            ]
        );
        assert_eq!(
            Dn::parse("CN=a\\41").unwrap().rdns,
            vec![vec![a("CN", "aA")]]
        );
        assert_eq!(Dn::parse("=x,"), Err(DnError::IncompletePair));
        assert_eq!(Dn::parse("CN=#04"), Err(DnError::BerEncoding));
        assert_eq!(Dn::parse("CN=a\\4"), Err(DnError::CorruptEscape));
        assert_eq!(Dn::parse("CN=a\\").unwrap().rdns, vec![vec![a("CN", "a")]]);
        assert_eq!(
            Dn::parse("alice").map(|d| d.rdns.len()),
            Err(DnError::IncompletePair)
        );
    }

    #[test]
    fn equal_is_ordered_and_match_is_not() {
        let x = Dn::parse("CN=app,O=Acme,C=US").unwrap();
        let y = Dn::parse("cn=app,o=Acme,c=US").unwrap();
        let z = Dn::parse("C=US,CN=app,O=Acme").unwrap();
        assert!(x.equal(&y), "types are case-insensitive");
        assert!(!x.equal(&z));
        assert!(x.rdns_match(&z));
        assert!(
            !x.rdns_match(&Dn::parse("CN=App,O=Acme,C=US").unwrap()),
            "values are exact"
        );
    }
}
