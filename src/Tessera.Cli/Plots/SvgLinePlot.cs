using System.Globalization;
using System.Text;

namespace Tessera.Cli.Plots;

/// <summary>A minimal SVG line chart (axes, ticks, one polyline per series, legend) for training curves.</summary>
internal static class SvgLinePlot
{
    private static readonly string[] s_colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];

    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<(string Name, IReadOnlyList<(double X, double Y)> Points)> series)
    {
        const int w = 640, h = 400, left = 70, right = 20, top = 40, bottom = 50;
        var all = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Y)).ToList();
        double x0 = all.Count > 0 ? all.Min(p => p.X) : 0, x1 = all.Count > 0 ? all.Max(p => p.X) : 1;
        double y0 = all.Count > 0 ? all.Min(p => p.Y) : 0, y1 = all.Count > 0 ? all.Max(p => p.Y) : 1;
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) { y1 += 0.5; y0 -= 0.5; }
        double pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
        string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
        double Px(double x) => left + (x - x0) / (x1 - x0) * (w - left - right);
        double Py(double y) => h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom);

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{w / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{h - bottom}\" x2=\"{w - right}\" y2=\"{h - bottom}\" stroke=\"black\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{h - bottom}\" stroke=\"black\"/>\n");
        for (int i = 0; i <= 5; i++)
        {
            double yv = y0 + (y1 - y0) * i / 5, xv = x0 + (x1 - x0) * i / 5;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left - 4}\" y1=\"{F(Py(yv))}\" x2=\"{w - right}\" y2=\"{F(Py(yv))}\" stroke=\"#ddd\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{F(Py(yv) + 4)}\" text-anchor=\"end\">{F(yv)}</text>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Px(xv))}\" y=\"{h - bottom + 18}\" text-anchor=\"middle\">{F(xv)}</text>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{(left + w - right) / 2}\" y=\"{h - 10}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"16\" y=\"{(top + h - bottom) / 2}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {(top + h - bottom) / 2})\">{Escape(yLabel)}</text>\n");
        for (int s = 0; s < series.Count; s++)
        {
            var color = s_colors[s % s_colors.Length];
            var pts = string.Join(" ", series[s].Points.Where(p => double.IsFinite(p.Y)).Select(p => $"{F(Px(p.X))},{F(Py(p.Y))}"));
            sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{pts}\"/>\n");
            foreach (var p in series[s].Points.Where(p => double.IsFinite(p.Y)))
                sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Px(p.X))}\" cy=\"{F(Py(p.Y))}\" r=\"3\" fill=\"{color}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"\n<text x=\"{w - right - 150}\" y=\"{top + 16 * (s + 1)}\" fill=\"{color}\">{Escape(series[s].Name)}</text>\n");
        }
        return sb.Append("</svg>\n").ToString();
    }

    private static string Escape(string s) => s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
}
