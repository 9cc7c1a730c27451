using Tessera.Nn;

namespace Tessera.Tests.Nn;

public class ModelConfigTests
{
    [Fact]
    public void Mlp_config_round_trips_through_json_and_builds_the_stated_layers()
    {
        var cfg = new ModelConfig(784, [256, 128], 10, "relu");
        var back = NetworkConfig.FromJson(cfg.ToJson());
        Assert.Equal(cfg, back);
        Assert.Contains("\"kind\": \"mlp\"", cfg.ToJson());
        var model = cfg.Build(seed: 1);
        Assert.Equal(784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10, model.ParameterCount);
    }

    [Fact]
    public void Cnn_config_round_trips_and_computes_the_flattened_size()
    {
        var cfg = new ConvNetConfig([1, 28, 28], [new ConvLayerConfig(32), new ConvLayerConfig(64)], [128], 10);
        Assert.Equal(64 * 7 * 7, cfg.FlattenedSize);
        Assert.Equal(cfg, NetworkConfig.FromJson(cfg.ToJson()));
    }

    [Theory]
    [InlineData("""{"kind":"mlp","inputSize":0,"hiddenLayers":[4],"outputSize":2}""", "inputSize")]
    [InlineData("""{"kind":"mlp","inputSize":4,"hiddenLayers":[4,-1],"outputSize":2}""", "hiddenLayers[1]")]
    [InlineData("""{"kind":"mlp","inputSize":4,"hiddenLayers":[4],"outputSize":0}""", "outputSize")]
    [InlineData("""{"kind":"mlp","inputSize":4,"hiddenLayers":[4],"outputSize":2,"activation":"swish"}""", "activation")]
    [InlineData("""{"kind":"cnn","inputShape":[1,4,4],"convLayers":[{"channels":4,"kernelSize":9}],"hiddenLayers":[],"outputSize":2}""", "convLayers[0]")]
    [InlineData("""{"kind":"cnn","inputShape":[1,28],"convLayers":[],"hiddenLayers":[],"outputSize":2}""", "inputShape")]
    public void Invalid_configs_are_rejected_naming_the_field(string json, string field)
    {
        var e = Assert.Throws<ConfigException>(() => NetworkConfig.FromJson(json));
        Assert.Equal(field, e.Field);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Training_config_rejects_an_unknown_optimizer_and_a_zero_batch()
    {
        var model = new ModelConfig(4, [], 2);
        Assert.Equal("optimizer", Assert.Throws<ConfigException>(() => new TrainingConfig(model, optimizer: "lion")).Field);
        Assert.Equal("batchSize", Assert.Throws<ConfigException>(() => new TrainingConfig(model, batchSize: 0)).Field);
        var cfg = new TrainingConfig(model, optimizer: "sgd", schedule: new ScheduleConfig("cosine", WarmupSteps: 10));
        Assert.Equal(cfg.ToJson(), TrainingConfig.FromJson(cfg.ToJson()).ToJson());
    }
}
