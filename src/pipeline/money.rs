//! Exact money: decimal text to integer minor units and FX conversion in integer arithmetic with
//! round-half-even, never through binary floats.

/// ISO 4217 minor-unit exponents of the currencies the payments pipeline accepts.
pub fn minor_units(currency: &str) -> Option<u32> {
    Some(match currency {
        "JPY" | "KRW" | "CLP" | "ISK" | "VND" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        "USD" | "EUR" | "GBP" | "CHF" | "CAD" | "AUD" | "NZD" | "SEK" | "NOK" | "DKK" | "PLN" | "CZK" | "HUF" | "INR"
        | "CNY" | "HKD" | "SGD" | "MXN" | "BRL" | "ZAR" | "TRY" | "ILS" | "AED" | "SAR" | "THB" => 2,
        _ => return None,
    })
}

/// Digits after the point kept for FX rates.
pub const RATE_DECIMALS: u32 = 9;

/// Parse a plain decimal (`"12.34"`, `"-5"`, `"0.5"`; no exponent, no sign `+`) scaled by
/// `10^decimals`. Extra decimals are accepted only if they are zeros. Err: the reason, for a dead letter.
pub fn parse_scaled(text: &str, decimals: u32) -> Result<i128, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit())
        || (digits.contains('.') && fraction.is_empty())
    {
        return Err(format!("{text:?} is not a plain decimal number"));
    }
    if whole.len() > 20 {
        return Err(format!("{text:?} has too many digits"));
    }
    let (kept, extra) = fraction.split_at(fraction.len().min(decimals as usize));
    if extra.bytes().any(|b| b != b'0') {
        return Err(format!("{text:?} has more than {decimals} decimals"));
    }
    let mut value: i128 = whole.parse::<i128>().map_err(|_| format!("{text:?} is not a number"))?;
    value *= 10i128.pow(decimals);
    if !kept.is_empty() {
        value += kept.parse::<i128>().map_err(|_| format!("{text:?} is not a number"))? * 10i128.pow(decimals - kept.len() as u32);
    }
    Ok(if negative { -value } else { value })
}

/// `numerator / denominator` rounded half to even (denominator > 0).
pub fn div_round_half_even(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    match (2 * remainder).cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + (quotient & 1),
    }
}

/// `amount_minor` (with `exponent` decimals) times `rate_nanos / 10^9`, in minor units of a
/// currency with `target_exponent` decimals, rounded half to even; None if the exact product
/// does not fit 128 bits (an absurd amount or rate, never a wrapped one).
pub fn convert(amount_minor: i64, exponent: u32, rate_nanos: i128, target_exponent: u32) -> Option<i128> {
    let numerator = i128::from(amount_minor).checked_mul(rate_nanos)?.checked_mul(10i128.pow(target_exponent))?;
    Some(div_round_half_even(numerator, 10i128.pow(exponent + RATE_DECIMALS)))
}

/// Minor units as decimal text (`1234`, 2 -> `"12.34"`).
pub fn format_minor(value: i128, exponent: u32) -> String {
    if exponent == 0 {
        return value.to_string();
    }
    let scale = 10i128.pow(exponent);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.abs();
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = exponent as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_scaled("12.34", 2), Ok(1234));
        assert_eq!(parse_scaled("12.3", 2), Ok(1230));
        assert_eq!(parse_scaled("12", 2), Ok(1200));
        assert_eq!(parse_scaled("12.340", 2), Ok(1234));
        assert_eq!(parse_scaled("-0.01", 2), Ok(-1));
        assert_eq!(parse_scaled("0.1", 0).unwrap_err(), "\"0.1\" has more than 0 decimals");
        for bad in ["", "1e5", "+1", "1.", ".5", "1.2.3", "abc", "NaN"] {
            assert!(parse_scaled(bad, 2).is_err(), "{bad}");
        }
    }

    #[test]
    fn conversion_rounds_half_to_even() {
        // 0.05 EUR at 1.1 = 0.055 USD -> 0.06 (half to even: 5 -> 6); 0.15 at 1.1 = 0.165 -> 0.16.
        assert_eq!(convert(5, 2, 1_100_000_000, 2), Some(6));
        assert_eq!(convert(15, 2, 1_100_000_000, 2), Some(16));
        // 1000 JPY at 0.0067 USD = 6.70 USD; 6.70 USD at 149.25 JPY = 1000 JPY (rounded: 999.975).
        assert_eq!(convert(1000, 0, 6_700_000, 2), Some(670));
        assert_eq!(convert(670, 2, 149_250_000_000, 0), Some(1000));
        // 1.000 KWD at 3.25 USD into a three-decimal base: 3.250.
        assert_eq!(convert(1000, 3, 3_250_000_000, 3), Some(3250));
        assert_eq!(convert(i64::MAX, 2, 10i128.pow(29), 2), None);
        assert_eq!(div_round_half_even(5, 2), 2);
        assert_eq!(div_round_half_even(7, 2), 4);
        assert_eq!(format_minor(1234, 2), "12.34");
        assert_eq!(format_minor(5, 3), "0.005");
    }
}
