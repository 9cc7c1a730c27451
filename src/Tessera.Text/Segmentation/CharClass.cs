using System.Runtime.CompilerServices;

namespace Tessera.Text.Segmentation;

/// <summary>The character classes of jieba 0.42's regular expressions, as predicates over UTF-16 chars.</summary>
internal static class CharClass
{
    // Bit 0: re_han_default [\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]; bit 1: re_eng [a-zA-Z0-9];
    // bit 2: Python's \s (str patterns); bit 3: posseg's re_han_internal [\u4E00-\u9FD5a-zA-Z0-9+#&\._].
    private static readonly byte[] Ascii = Build();

    private static byte[] Build()
    {
        var t = new byte[128];
        for (int c = 0; c < 128; c++)
        {
            bool alnum = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9';
            if (alnum || "+#&._%-".Contains((char)c)) t[c] |= 1;
            if (alnum) t[c] |= 2;
            if (c is >= 9 and <= 13 or >= 0x1C and <= 0x20) t[c] |= 4;
            if (alnum || "+#&._".Contains((char)c)) t[c] |= 8;
        }
        return t;
    }

    /// <summary>jieba's re_han_default: Han U+4E00..U+9FD5, ASCII letters and digits, and + # &amp; . _ % -.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsHanBlock(char c) => c < 128 ? (Ascii[c] & 1) != 0 : (uint)(c - 0x4E00) <= 0x9FD5 - 0x4E00;

    /// <summary>posseg's re_han_internal: like <see cref="IsHanBlock"/> without % and -.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsPosHanBlock(char c) => c < 128 ? (Ascii[c] & 8) != 0 : (uint)(c - 0x4E00) <= 0x9FD5 - 0x4E00;

    /// <summary>The Han range of finalseg's re_han: U+4E00..U+9FD5.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsHan(char c) => (uint)(c - 0x4E00) <= 0x9FD5 - 0x4E00;

    /// <summary>End of the run starting at <paramref name="start"/> (below <paramref name="end"/>) whose chars are all
    /// Han or all not Han: finalseg and posseg cut a span of single chars into such runs.</summary>
    public static int HanRunEnd(ReadOnlySpan<char> s, int start, int end)
    {
        bool han = IsHan(s[start]);
        int q = start + 1;
        while (q < end && IsHan(s[q]) == han) q++;
        return q;
    }

    /// <summary>re_eng: [a-zA-Z0-9].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsEng(char c) => c < 128 && (Ascii[c] & 2) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsDigit(char c) => (uint)(c - '0') <= 9;

    /// <summary>Python 3's \s on str: ASCII whitespace, U+001C..U+001F, U+0085, U+00A0, U+1680, U+2000..U+200A,
    /// U+2028, U+2029, U+202F, U+205F, U+3000 (checked against CPython: the set of chars <c>re.match(r'\s')</c> accepts).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsSpace(char c)
    {
        if (c < 128) return (Ascii[c] & 4) != 0;
        return c == '\u0085' || c == '\u00A0' || c == '\u1680' || (c >= '\u2000' && c <= '\u200A')
            || c == '\u2028' || c == '\u2029' || c == '\u202F' || c == '\u205F' || c == '\u3000';
    }
}
