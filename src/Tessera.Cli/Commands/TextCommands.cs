using System.CommandLine;
using System.Text;
using Tessera.Text;
using Tessera.Text.Segmentation;

namespace Tessera.Cli.Commands;

/// <summary><c>tessera segment</c>, <c>tessera keywords</c>, <c>tessera text train|predict</c>: Chinese text tools.</summary>
internal static class TextCommands
{
    /// <summary>Reads UTF-8 text line by line as Python's text mode does (\n, \r and \r\n end a line; bad bytes become U+FFFD).</summary>
    internal static StreamReader OpenInput(string? file) =>
        TextLines.Open(file is null or "-" ? Console.OpenStandardInput() : File.OpenRead(file));

    internal static StreamWriter OpenOutput() =>
        new(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { AutoFlush = false, NewLine = "\n" };

    /// <summary><c>tessera segment [-d DELIM] [-n] [-a] [--search] [FILE]</c>, mirroring <c>python3 -m jieba</c>.</summary>
    public static Command CreateSegment()
    {
        var delim = new Option<string?>("--delimiter", "-d")
        {
            Description = "Use DELIM instead of ' / ' between words; a space if -d is given without DELIM.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var noHmm = new Option<bool>("--no-hmm", "-n") { Description = "Don't use the Hidden Markov Model." };
        var all = new Option<bool>("--cut-all", "-a") { Description = "Full mode: every dictionary word." };
        var search = new Option<bool>("--search") { Description = "Search-engine mode (jieba.cut_for_search)." };
        var pos = new Option<string?>("--pos", "-p")
        {
            Description = "POS tagging; DELIM (default '_') between word and tag.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var userDict = new Option<string?>("--user-dict", "-u") { Description = "Load USER_DICT with the default dictionary." };
        var dict = new Option<string?>("--dict", "-D") { Description = "Use DICT (jieba dict.txt format, may be .gz) as the dictionary." };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Accepted for compatibility; nothing is printed to stderr." };
        var file = new Argument<string?>("FILE") { Description = "Input file (default: standard input).", Arity = ArgumentArity.ZeroOrOne };

        var cmd = new Command("segment", "Cut Chinese text into words, one output line per input line (like python3 -m jieba).");
        foreach (var o in new Option[] { delim, noHmm, all, search, pos, userDict, dict, quiet }) cmd.Options.Add(o);
        cmd.Arguments.Add(file);
        cmd.SetAction(parseResult =>
        {
            string d = parseResult.GetResult(delim) is { } dr ? (dr.Tokens.Count == 0 ? " " : dr.Tokens[0].Value) : " / ";
            bool hmm = !parseResult.GetValue(noHmm);
            var mode = parseResult.GetValue(search) ? SegmentMode.Search : parseResult.GetValue(all) ? SegmentMode.Full : SegmentMode.Accurate;
            string? posDelim = parseResult.GetResult(pos) is { } pr ? (pr.Tokens.Count == 0 ? "_" : pr.Tokens[0].Value) : null;
            string? path = parseResult.GetValue(file);
            try
            {
                var seg = parseResult.GetValue(dict) is { } dpath
                    ? new JiebaSegmenter(PrefixDictionary.LoadFile(dpath))
                    : JiebaSegmenter.CreateDefault();
                if (parseResult.GetValue(userDict) is { } u) seg.LoadUserDictionary(u);
                using var input = OpenInput(path);
                using var output = OpenOutput();
                if (posDelim != null) return SegmentPos(seg, input, output, d, posDelim, hmm);
                var tokens = new List<Token>();
                string? line;
                while ((line = input.ReadLine()) != null)
                {
                    tokens.Clear();
                    seg.Cut(line, tokens, mode, hmm);
                    for (int i = 0; i < tokens.Count; i++)
                    {
                        if (i > 0) output.Write(d);
                        output.Write(line.AsSpan(tokens[i].Start, tokens[i].Length));
                    }
                    output.Write('\n');
                }
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
                Console.Error.WriteLine($"tessera segment: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    private static int SegmentPos(JiebaSegmenter seg, StreamReader input, StreamWriter output, string delim, string posDelim, bool hmm)
    {
        Console.Error.WriteLine("tessera segment: POS tagging is not available yet");
        return 2;
    }
}
