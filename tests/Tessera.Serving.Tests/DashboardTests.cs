using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using Microsoft.Playwright;

namespace Tessera.Serving.Tests;

/// <summary>The dashboard in Debian's headless chromium, driven by Playwright: models listed, try-it panel works, screenshot not blank.</summary>
public sealed class DashboardTests
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task Dashboard_lists_models_runs_the_image_try_it_panel_and_renders_a_non_blank_page()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: test.sh installs it with apt-get install chromium");
        await using var s = await TestServer.StartAsync(prepare: repo =>
        {
            NativeModels.WriteImageModel(repo, "digits");
            TestServer.CopyDirectory(Path.Combine(BundledRepositoryTests.Bundled, "breast-cancer"), Path.Combine(repo, "breast-cancer"));
        });
        string ones = string.Join(",", Enumerable.Repeat(1, 16));
        for (int i = 0; i < 5; i++)
            await s.PostJsonAsync("v2/models/simple/infer", $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[{{ones}}]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[{{ones}}]}]}""");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        var errors = new List<string>();
        page.Console += (_, m) => { if (m.Type == "error") errors.Add(m.Text); };
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(s.Http.BaseAddress!.ToString());
        try { await page.WaitForSelectorAsync("tr[data-model='simple'] td.READY", new PageWaitForSelectorOptions { Timeout = 15000 }); }
        catch (TimeoutException) { Assert.Fail("no READY row for simple; page errors: " + string.Join(" | ", errors) + "; table: " + await page.InnerTextAsync("body")); }
        var names = await page.EvalOnSelectorAllAsync<string[]>("#models tbody tr", "rows => rows.map(r => r.dataset.model)");
        Assert.Contains("simple", names);
        Assert.Contains("simple_string", names);
        Assert.Contains("digits", names);

        await page.SelectOptionAsync("#model", "digits");
        Assert.True(await page.IsVisibleAsync("#draw"), "an FP32 [1,28,28] input should get the drawing canvas");
        var box = (await page.Locator("#draw").BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(box.X + 40, box.Y + 40);
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync(box.X + 180, box.Y + 180, new MouseMoveOptions { Steps = 10 });
        await page.Mouse.UpAsync();
        await page.ClickAsync("#send");
        await page.WaitForFunctionAsync("() => document.getElementById('result').textContent.includes('HTTP 200')", null, new PageWaitForFunctionOptions { Timeout = 15000 });
        Assert.Contains("LOGITS: class", await page.TextContentAsync("#result"));

        // A tree model gets a text box of 30 features (no canvas) and answers with a label.
        await page.SelectOptionAsync("#model", "breast-cancer");
        Assert.False(await page.IsVisibleAsync("#draw"), "an FP32 [-1,30] input is not an image");
        await page.ClickAsync("#send");
        await page.WaitForFunctionAsync("() => document.getElementById('result').textContent.includes('\"label\"')", null, new PageWaitForFunctionOptions { Timeout = 15000 });
        Assert.Contains("HTTP 200", await page.TextContentAsync("#result"));

        var png = await page.ScreenshotAsync(new PageScreenshotOptions { FullPage = true });
        File.WriteAllBytes(Path.Combine(AppContext.BaseDirectory, "dashboard.png"), png);
        var (width, height, distinct, nonBackground) = PngStats(png);
        Assert.True(width >= 1000 && height >= 600, $"screenshot is {width}x{height}");
        Assert.True(distinct >= 16, $"only {distinct} distinct colours: the page looks blank");
        Assert.True(nonBackground > 0.05, $"only {nonBackground:P1} of the pixels differ from the background");
        Assert.Equal(HttpStatusCode.OK, (await s.GetJsonAsync("api/dashboard")).Status);
    }

    /// <summary>Decodes an 8-bit RGB/RGBA PNG enough to count distinct colours and the share of pixels unlike the most common one.</summary>
    private static (int Width, int Height, int Distinct, double NonBackground) PngStats(byte[] png)
    {
        int offset = 8, width = 0, height = 0, colorType = 0;
        using var idat = new MemoryStream();
        while (offset < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            string type = System.Text.Encoding.ASCII.GetString(png, offset + 4, 4);
            var data = png.AsSpan(offset + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]);
                colorType = data[9];
            }
            else if (type == "IDAT") idat.Write(data);
            offset += 12 + length;
        }
        int bpp = colorType == 6 ? 4 : 3;
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        int stride = width * bpp;
        var prev = new byte[stride];
        var cur = new byte[stride];
        var counts = new Dictionary<int, int>();
        for (int y = 0; y < height; y++)
        {
            int filter = bytes[y * (stride + 1)];
            Array.Copy(bytes, y * (stride + 1) + 1, cur, 0, stride);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                cur[i] = (byte)(cur[i] + filter switch
                {
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => pa <= pb && pa <= pc ? a : pb <= pc ? b : c,
                    _ => 0,
                });
            }
            for (int x = 0; x < width; x++)
            {
                int key = (cur[x * bpp] << 16) | (cur[x * bpp + 1] << 8) | cur[x * bpp + 2];
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
            (prev, cur) = (cur, prev);
        }
        int total = width * height;
        return (width, height, counts.Count, 1 - counts.Values.Max() / (double)total);
    }
}
