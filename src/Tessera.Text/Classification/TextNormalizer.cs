namespace Tessera.Text.Classification;

/// <summary>Text normalization before segmentation: full-width forms to half-width (Ａ１！→ A1!, ideographic space to space) and lower case.</summary>
public sealed record TextNormalizer(bool HalfWidth = true, bool LowerCase = true)
{
    /// <summary>Returns the normalized text (the same string when nothing changes).</summary>
    public string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!HalfWidth && !LowerCase) return text;
        return string.Create(text.Length, (text, this), static (dst, state) =>
        {
            var (src, n) = state;
            for (int i = 0; i < src.Length; i++)
            {
                char c = src[i];
                if (n.HalfWidth)
                {
                    if (c >= '\uFF01' && c <= '\uFF5E') c = (char)(c - 0xFEE0);
                    else if (c == '\u3000') c = ' ';
                }
                if (n.LowerCase) c = char.ToLowerInvariant(c);
                dst[i] = c;
            }
        });
    }
}
