using System.Globalization;
using System.Text;

namespace Tessera.Text.Segmentation;

/// <summary>
/// jieba's character HMM (finalseg): states B, M, E, S (begin, middle, end of a word, single-char word) with
/// start, transition and emission log-probabilities, decoded by Viterbi for runs of out-of-vocabulary Han chars.
/// </summary>
public sealed class HmmModel
{
    public const byte B = 0, M = 1, E = 2, S = 3;
    internal const double MinFloat = -3.14e100;
    internal const char FirstHan = '\u4E00', LastHan = '\u9FD5';
    private const int HanCount = LastHan - FirstHan + 1;
    private static readonly string StateNames = "BMES";

    private readonly double[] _start = new double[4];
    private readonly double[,] _trans = new double[4, 4];
    private readonly double[][] _emit = new double[4][];

    private HmmModel()
    {
        for (int s = 0; s < 4; s++)
        {
            _emit[s] = new double[HanCount];
            Array.Fill(_emit[s], MinFloat);
            _start[s] = MinFloat;
            for (int t = 0; t < 4; t++) _trans[s, t] = MinFloat;
        }
    }

    private static readonly Lazy<HmmModel> DefaultModel =
        new(() => Load(Data.EmbeddedData.Open(Data.EmbeddedData.FinalSegName), Data.EmbeddedData.FinalSegName));

    /// <summary>jieba 0.42's model, from the embedded data (loaded once, immutable).</summary>
    public static HmmModel Default => DefaultModel.Value;

    /// <summary>Reads the "start / trans / emit" TSV written by tools/text/export_jieba_data.py.</summary>
    public static HmmModel Load(Stream stream, string sourceName)
    {
        var m = new HmmModel();
        using var reader = new StreamReader(stream, new UTF8Encoding(false, false));
        int lineNo = 0;
        string? line;
        while ((line = reader.ReadLine()) != null)
        {
            lineNo++;
            if (line.Length == 0) continue;
            var f = line.Split('\t');
            try
            {
                switch (f[0])
                {
                    case "start" when f.Length == 3:
                        m._start[State(f[1])] = Parse(f[2]);
                        break;
                    case "trans" when f.Length == 4:
                        m._trans[State(f[1]), State(f[2])] = Parse(f[3]);
                        break;
                    case "emit" when f.Length == 4 && f[2].Length == 1:
                        char c = f[2][0];
                        // Only chars of jieba's re_han [\u4E00-\u9FD5] ever reach the HMM.
                        if (c >= FirstHan && c <= LastHan) m._emit[State(f[1])][c - FirstHan] = Parse(f[3]);
                        break;
                    default:
                        throw new FormatException("expected start/trans/emit row");
                }
            }
            catch (FormatException e)
            {
                throw new DictionaryFormatException(sourceName, lineNo, line, e.Message);
            }
        }
        return m;
    }

    private static int State(string s) => s.Length == 1 && StateNames.Contains(s[0]) ? StateNames.IndexOf(s[0]) : throw new FormatException($"unknown state '{s}'");

    private static double Parse(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    /// <summary>
    /// The most probable state sequence for <paramref name="obs"/> (all chars in U+4E00..U+9FD5), written to
    /// <paramref name="path"/>. Sums and tie-breaks follow jieba's <c>viterbi</c> exactly: candidates are
    /// compared as (probability, state letter) tuples.
    /// </summary>
    public void Viterbi(ReadOnlySpan<char> obs, Span<byte> path)
    {
        int n = obs.Length;
        if (n == 0) return;
        Span<double> v = stackalloc double[4];
        Span<double> nv = stackalloc double[4];
        byte[]? rented = null;
        Span<byte> back = n * 4 <= 1024 ? stackalloc byte[n * 4] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(n * 4));
        var eB = _emit[B]; var eM = _emit[M]; var eE = _emit[E]; var eS = _emit[S];

        int c0 = obs[0] - FirstHan;
        v[B] = _start[B] + eB[c0];
        v[M] = _start[M] + eM[c0];
        v[E] = _start[E] + eE[c0];
        v[S] = _start[S] + eS[c0];
        for (int t = 1; t < n; t++)
        {
            int c = obs[t] - FirstHan;
            int bt = t * 4;
            // PrevStatus: B<-E,S  M<-M,B  E<-B,M  S<-S,E; on a tie the later letter wins (Python tuple max).
            // The emission is added before comparing, as jieba does: rounding can turn a near-tie into a tie.
            double b = eB[c], m = eM[c], e = eE[c], s = eS[c];
            Best(v[E] + _trans[E, B] + b, E, v[S] + _trans[S, B] + b, S, out nv[B], out back[bt + B]);
            Best(v[M] + _trans[M, M] + m, M, v[B] + _trans[B, M] + m, B, out nv[M], out back[bt + M]);
            Best(v[B] + _trans[B, E] + e, B, v[M] + _trans[M, E] + e, M, out nv[E], out back[bt + E]);
            Best(v[S] + _trans[S, S] + s, S, v[E] + _trans[E, S] + s, E, out nv[S], out back[bt + S]);
            nv.CopyTo(v);
        }
        byte state = v[S] >= v[E] ? S : E;
        for (int t = n - 1; t >= 0; t--)
        {
            path[t] = state;
            if (t > 0) state = back[t * 4 + state];
        }
        if (rented != null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
    }

    private static void Best(double p1, byte s1, double p2, byte s2, out double p, out byte s)
    {
        // Python compares (prob, 'X') tuples: larger prob, then larger state letter. Letters order B < E < M < S.
        if (p1 > p2 || (p1 == p2 && Letter(s1) > Letter(s2))) { p = p1; s = s1; }
        else { p = p2; s = s2; }
    }

    private static char Letter(byte s) => StateNames[s];
}
