using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Tessera.Serving.Grpc.Inference;

namespace Tessera.Serving.Tests;

/// <summary>inference.GRPCInferenceService over HTTP/2 with Grpc.Net.Client, as a Triton client would call it.</summary>
public sealed class GrpcProtocolTests(SharedServer shared) : IClassFixture<SharedServer>
{
    private GRPCInferenceService.GRPCInferenceServiceClient Client => new(shared.Server.Grpc);

    public static ModelInferRequest SimpleRaw(string model, int[] a, int[] b)
    {
        var r = new ModelInferRequest { ModelName = model };
        foreach (var name in new[] { "INPUT0", "INPUT1" })
            r.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = "INT32", Shape = { 1, a.Length } });
        r.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(a.AsSpan())));
        r.RawInputContents.Add(ByteString.CopyFrom(MemoryMarshal.AsBytes(b.AsSpan())));
        return r;
    }

    [Fact]
    public async Task Server_live_ready_and_metadata()
    {
        Assert.True((await Client.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await Client.ServerReadyAsync(new ServerReadyRequest())).Ready);
        var meta = await Client.ServerMetadataAsync(new ServerMetadataRequest());
        Assert.Equal("tessera", meta.Name);
        Assert.Contains("binary_tensor_data", meta.Extensions);
    }

    [Fact]
    public async Task Model_ready_and_metadata()
    {
        Assert.True((await Client.ModelReadyAsync(new ModelReadyRequest { Name = "simple", Version = "1" })).Ready);
        var meta = await Client.ModelMetadataAsync(new ModelMetadataRequest { Name = "simple" });
        Assert.Equal(["1"], meta.Versions);
        Assert.Equal("INT32", meta.Inputs[0].Datatype);
        Assert.Equal([-1L, 16L], meta.Inputs[0].Shape);
        var e = await Assert.ThrowsAsync<RpcException>(() => Client.ModelMetadataAsync(new ModelMetadataRequest { Name = "nope" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
    }

    [Fact]
    public async Task Model_infer_with_raw_contents_returns_raw_outputs()
    {
        int[] a = [.. Enumerable.Range(0, 16)], b = [.. Enumerable.Repeat(5, 16)];
        var response = await Client.ModelInferAsync(SimpleRaw("simple", a, b));
        Assert.Equal("simple", response.ModelName);
        Assert.Equal("1", response.ModelVersion);
        Assert.Equal(["OUTPUT0", "OUTPUT1"], response.Outputs.Select(o => o.Name));
        Assert.Equal([1L, 16L], response.Outputs[0].Shape);
        Assert.Equal(a.Select((x, i) => x + b[i]), MemoryMarshal.Cast<byte, int>(response.RawOutputContents[0].Span).ToArray());
        Assert.Equal(a.Select((x, i) => x - b[i]), MemoryMarshal.Cast<byte, int>(response.RawOutputContents[1].Span).ToArray());
    }

    [Fact]
    public async Task Model_infer_with_typed_contents_and_bytes_model()
    {
        var r = new ModelInferRequest { ModelName = "simple_string", Id = "g1" };
        foreach (var name in new[] { "INPUT0", "INPUT1" })
        {
            var t = new ModelInferRequest.Types.InferInputTensor { Name = name, Datatype = "BYTES", Shape = { 1, 16 }, Contents = new InferTensorContents() };
            t.Contents.BytesContents.AddRange(Enumerable.Range(0, 16).Select(i => ByteString.CopyFromUtf8((i * 2).ToString())));
            r.Inputs.Add(t);
        }
        r.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "OUTPUT0" });
        var response = await Client.ModelInferAsync(r);
        Assert.Equal("g1", response.Id);
        Assert.Single(response.Outputs);
        var tensor = new Protocol.InferTensor("OUTPUT0", Protocol.DataType.Bytes, [1, 16], response.RawOutputContents[0].Memory);
        tensor.Validate();
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (i * 4).ToString()), tensor.GetStrings());
    }

    [Fact]
    public async Task Repository_rpcs_index_load_unload()
    {
        await Client.RepositoryModelLoadAsync(new RepositoryModelLoadRequest { ModelName = "simple" });
        var index = await Client.RepositoryIndexAsync(new RepositoryIndexRequest { Ready = true });
        Assert.Contains(index.Models, m => m.Name == "simple" && m.State == "READY");
        var e = await Assert.ThrowsAsync<RpcException>(() => Client.RepositoryModelLoadAsync(new RepositoryModelLoadRequest { ModelName = "nope" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        var failed = await Assert.ThrowsAsync<RpcException>(() => Client.RepositoryModelLoadAsync(new RepositoryModelLoadRequest { ModelName = "broken" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, failed.StatusCode);
        Assert.Contains("broken", failed.Status.Detail);
    }
}
