using System.Globalization;
using System.Text;

namespace Tessera.Text.Segmentation;

/// <summary>
/// jieba's posseg HMM: 256 states, each a (BMES position, POS tag) pair such as ("B", "n"), with the chars that
/// may take each state, and a Viterbi that follows jieba's <c>posseg.viterbi</c> (state pruning and tie-breaks).
/// </summary>
public sealed class PosHmmModel
{
    private readonly string[] _letters;   // state -> "B"/"M"/"E"/"S", states sorted as Python sorts the tuples
    private readonly string[] _tags;
    private readonly double[] _start;
    private readonly double[] _trans;     // [from * n + to], -inf when absent
    private readonly int[][] _next;       // successors of each state (jieba's trans_p[x].keys())
    private readonly Dictionary<int, double> _emit; // (state << 16 | char) -> log p
    private readonly Dictionary<char, int[]> _charStates;
    private readonly int[] _allStates;
    internal const double MinFloat = -3.14e100;

    private PosHmmModel(List<(string L, string T)> states)
    {
        int n = states.Count;
        _letters = states.Select(s => s.L).ToArray();
        _tags = states.Select(s => s.T).ToArray();
        _start = new double[n];
        _trans = new double[n * n];
        Array.Fill(_trans, double.NegativeInfinity);
        _next = new int[n][];
        _emit = new Dictionary<int, double>(100_000);
        _charStates = new Dictionary<char, int[]>(7000);
        _allStates = Enumerable.Range(0, n).ToArray();
    }

    /// <summary>Number of (position, tag) states.</summary>
    public int StateCount => _tags.Length;

    /// <summary>The position letter (B, M, E, S) of a state.</summary>
    public char Position(int state) => _letters[state][0];

    /// <summary>The POS tag of a state.</summary>
    public string Tag(int state) => _tags[state];

    private static readonly Lazy<PosHmmModel> DefaultModel =
        new(() => Load(Data.EmbeddedData.Open(Data.EmbeddedData.PosSegName), Data.EmbeddedData.PosSegName));

    /// <summary>jieba 0.42's posseg model from the embedded data (loaded once, immutable).</summary>
    public static PosHmmModel Default => DefaultModel.Value;

    /// <summary>Reads the posseg TSV written by tools/text/export_jieba_data.py.</summary>
    public static PosHmmModel Load(Stream stream, string sourceName)
    {
        var rows = new List<(int Line, string Text, string[] F)>();
        using (var reader = new StreamReader(stream, new UTF8Encoding(false, false)))
        {
            int lineNo = 0;
            while (reader.ReadLine() is { } line)
            {
                lineNo++;
                if (line.Length > 0) rows.Add((lineNo, line, line.Split('\t')));
            }
        }
        (string, string) Split(string s, int line, string text)
        {
            int dash = s.IndexOf('-');
            if (dash != 1 || "BMES".IndexOf(s[0]) < 0) throw new DictionaryFormatException(sourceName, line, text, $"bad state '{s}'");
            return (s[..1], s[2..]);
        }
        // States in Python's tuple order: the tie-breaks of jieba's max() depend on it.
        var names = new SortedSet<(string, string)>(Comparer<(string, string)>.Create((a, b) =>
        {
            int c = string.CompareOrdinal(a.Item1, b.Item1);
            return c != 0 ? c : string.CompareOrdinal(a.Item2, b.Item2);
        }));
        foreach (var r in rows)
            if (r.F[0] == "start" && r.F.Length == 3) names.Add(Split(r.F[1], r.Line, r.Text));
        var states = names.ToList();
        var index = new Dictionary<string, int>();
        for (int i = 0; i < states.Count; i++) index[states[i].Item1 + "-" + states[i].Item2] = i;
        var m = new PosHmmModel(states);
        int n = states.Count;
        var next = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        foreach (var (line, text, f) in rows)
        {
            try
            {
                int S(string s) => index.TryGetValue(s, out int i) ? i : throw new FormatException($"unknown state '{s}'");
                switch (f[0])
                {
                    case "start" when f.Length == 3: m._start[S(f[1])] = P(f[2]); break;
                    case "trans" when f.Length == 2: S(f[1]); break;
                    case "trans" when f.Length == 4:
                        int from = S(f[1]), to = S(f[2]);
                        m._trans[from * n + to] = P(f[3]);
                        next[from].Add(to);
                        break;
                    case "emit" when f.Length == 4 && f[2].Length == 1: m._emit[S(f[1]) << 16 | f[2][0]] = P(f[3]); break;
                    case "chars" when f.Length == 3 && f[1].Length == 1:
                        m._charStates[f[1][0]] = f[2].Split(' ').Select(S).ToArray();
                        break;
                    default: throw new FormatException("expected a start/trans/emit/chars row");
                }
            }
            catch (FormatException e) when (e is not DictionaryFormatException)
            {
                throw new DictionaryFormatException(sourceName, line, text, e.Message);
            }
        }
        for (int i = 0; i < n; i++) m._next[i] = next[i].ToArray();
        return m;
    }

    private static double P(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    private double Emit(int state, char c) => _emit.TryGetValue(state << 16 | c, out double p) ? p : MinFloat;

    /// <summary>The most probable state for each char of <paramref name="obs"/>, as jieba's <c>posseg.viterbi</c> finds it.</summary>
    public int[] Viterbi(ReadOnlySpan<char> obs)
    {
        int n = _tags.Length, len = obs.Length;
        var route = new int[len];
        if (len == 0) return route;
        var v = new double[n];
        var nv = new double[n];
        var inPrev = new bool[n];
        var expect = new bool[n];
        var inObs = new bool[n];
        // Back pointers per step, as (state, previous state) pairs: only the states alive at that step.
        var backStart = new int[len + 1];
        var backPairs = new List<(short State, short Prev)>(len * 12);

        var cur = new List<int>();
        foreach (int y in _charStates.TryGetValue(obs[0], out var s0) ? s0 : _allStates)
        {
            v[y] = _start[y] + Emit(y, obs[0]);
            cur.Add(y);
            backPairs.Add(((short)y, -1));
        }
        backStart[1] = backPairs.Count;
        var prev = new List<int>();
        var obsStates = new List<int>();
        for (int t = 1; t < len; t++)
        {
            char c = obs[t];
            prev.Clear();
            foreach (int x in cur) if (_next[x].Length > 0) prev.Add(x);
            Array.Clear(expect);
            bool anyExpected = false;
            foreach (int x in prev) foreach (int y in _next[x]) { expect[y] = true; anyExpected = true; }
            obsStates.Clear();
            Array.Clear(inObs);
            foreach (int y in _charStates.TryGetValue(c, out var sc) ? sc : _allStates)
                if (expect[y] && !inObs[y]) { inObs[y] = true; obsStates.Add(y); }
            if (obsStates.Count == 0)
            {
                if (anyExpected) { for (int y = 0; y < n; y++) if (expect[y]) obsStates.Add(y); }
                else obsStates.AddRange(_allStates);
            }
            foreach (int y in obsStates)
            {
                double em = Emit(y, c);
                double best = double.NegativeInfinity;
                int bestPrev = -1;
                foreach (int y0 in prev)
                {
                    double p = v[y0] + _trans[y0 * n + y] + em;
                    // Python's max over (prob, state) tuples: larger prob, then the later state in tuple order.
                    if (bestPrev < 0 || p > best || (p == best && y0 > bestPrev)) { best = p; bestPrev = y0; }
                }
                nv[y] = best;
                backPairs.Add(((short)y, (short)bestPrev));
            }
            backStart[t + 1] = backPairs.Count;
            foreach (int y in obsStates) v[y] = nv[y];
            (cur, obsStates) = (obsStates, cur);
        }
        int state = -1;
        double bestLast = 0;
        foreach (int y in cur)
            if (state < 0 || v[y] > bestLast || (v[y] == bestLast && y > state)) { bestLast = v[y]; state = y; }
        for (int i = len - 1; i >= 0; i--)
        {
            route[i] = state;
            int prevState = -1;
            for (int k = backStart[i]; k < backStart[i + 1]; k++)
                if (backPairs[k].State == state) { prevState = backPairs[k].Prev; break; }
            state = prevState < 0 ? state : prevState;
        }
        return route;
    }
}
