//! TSTInfo (RFC 3161 section 2.4.2) as read here: x509-tsp's definition, except `genTime`,
//! which RFC 3161 lets carry fractional seconds (`YYYYMMDDHHMMSS[.s...]Z`) while der's
//! `GeneralizedTime` follows RFC 5280 and refuses them. Several public TSAs write fractions.

use der::asn1::{Int, ObjectIdentifier};
use der::{DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag, Writer};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::Extensions;
use x509_tsp::{Accuracy, MessageImprint, TspVersion};

/// `TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, accuracy
/// OPTIONAL, ordering DEFAULT FALSE, nonce OPTIONAL, tsa [0] OPTIONAL, extensions [1]
/// IMPLICIT OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
pub(super) struct TstInfo {
    pub version: TspVersion,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    pub gen_time: GenTime,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// A GeneralizedTime in UTC (`Z`), with or without fractional seconds, as nanoseconds since
/// the Unix epoch. Keeps its bytes, so encoding gives back what was decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct GenTime {
    pub unix_nanos: i128,
    raw: Vec<u8>,
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let raw = reader.read_vec(header.length)?;
        let unix_nanos = parse(&raw).ok_or_else(|| Tag::GeneralizedTime.value_error())?;
        Ok(GenTime { unix_nanos, raw })
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.raw.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.raw)
    }
}

/// `YYYYMMDDHHMMSS`, optionally `.` and 1 to 9 digits, then `Z`.
fn parse(raw: &[u8]) -> Option<i128> {
    let (body, rest) = raw.split_at_checked(14)?;
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        body[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(digits(0..4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?;
    let day = u8::try_from(digits(6..8)?).ok()?;
    let (h, m, s) = (digits(8..10)?, digits(10..12)?, digits(12..14)?);
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(s).ok()?,
    )
    .ok()?;
    let whole = time::PrimitiveDateTime::new(date, clock)
        .assume_utc()
        .unix_timestamp_nanos();
    let fraction = match rest {
        [b'Z'] => 0,
        [b'.', frac @ .., b'Z'] if (1..=9).contains(&frac.len()) => {
            let n = frac.iter().try_fold(0i128, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + i128::from(c - b'0'))
            })?;
            n * 10i128.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    Some(whole + fraction)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn generalized_times() {
        assert_eq!(parse(b"19700101000000Z"), Some(0));
        assert_eq!(parse(b"19700101000001.5Z"), Some(1_500_000_000));
        assert_eq!(parse(b"19700101000000.000000001Z"), Some(1));
        assert_eq!(
            parse(b"20261207050000Z"),
            Some(1_796_619_600 * 1_000_000_000)
        );
        for bad in [
            &b""[..],
            b"1970010100000Z",
            b"19700101000000",
            b"19700101000000.Z",
            b"19700101000000.1234567890Z",
            b"19701301000000Z",
            b"19700101250000Z",
            b"1970010100000aZ",
            b"19700101000000+0100",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
