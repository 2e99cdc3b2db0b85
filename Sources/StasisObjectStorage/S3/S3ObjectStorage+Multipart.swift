import Crypto
import NIOCore

extension S3ObjectStorage {
    /// CreateMultipartUpload, one UploadPart per `partSize` bytes (each with its own
    /// x-amz-checksum-sha256), CompleteMultipartUpload listing every part's ETag and checksum.
    /// The whole object's SHA-256 is computed from the parts as they go up and compared with
    /// `expected` before completing, so a source that does not match never becomes visible. Any
    /// failure aborts the upload, so the service drops the parts.
    func uploadInParts(
        _ fullKey: String, size: Int64, expected: ObjectDigest?,
        readPart: (Range<Int64>) throws(ObjectStorageError) -> [UInt8]
    ) async throws(ObjectStorageError) {
        let uploadID = try await createUpload(fullKey)
        do throws(ObjectStorageError) {
            var parts: [(number: Int, etag: String, checksum: String)] = []
            var whole = SHA256()
            let partSize = Int64(configuration.multipart.partSize)
            var offset: Int64 = 0
            var number = 1
            while offset < size {
                let range = offset..<min(size, offset + partSize)
                let bytes = try readPart(range)
                guard bytes.count == range.count else {
                    throw ObjectStorageError.wrongLength(transport.location(fullKey), expected: Int64(range.count), received: Int64(bytes.count))
                }
                whole.update(data: bytes)
                let digest = ObjectDigest.of(bytes)
                let etag = try await uploadPart(fullKey, uploadID: uploadID, number: number, bytes: bytes, digest: digest)
                parts.append((number, etag, digest.base64))
                offset = range.upperBound
                number += 1
            }
            let actual = ObjectDigest(whole.finalize())
            if let expected, expected != actual {
                throw ObjectStorageError.checksumMismatch(transport.location(fullKey), expected: expected, actual: actual)
            }
            try await completeUpload(fullKey, uploadID: uploadID, parts: parts)
        } catch {
            await abortUpload(fullKey, uploadID: uploadID)
            throw error
        }
    }

    private func createUpload(_ fullKey: String) async throws(ObjectStorageError) -> String {
        let call = S3Call(
            operation: "CreateMultipartUpload", method: .POST, key: fullKey, query: [("uploads", "")],
            headers: [("x-amz-checksum-algorithm", "SHA256"), ("content-type", "application/octet-stream")])
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
        guard let id = XMLText.first("UploadId", in: answer.bodyText), !id.isEmpty else {
            throw .invalidResponse(transport.location(fullKey), operation: call.operation, reason: "no UploadId")
        }
        return id
    }

    private func uploadPart(_ fullKey: String, uploadID: String, number: Int, bytes: [UInt8], digest: ObjectDigest) async throws(ObjectStorageError) -> String {
        let call = S3Call(
            operation: "UploadPart \(number)", method: .PUT, key: fullKey,
            query: [("partNumber", String(number)), ("uploadId", uploadID)],
            headers: [("x-amz-checksum-sha256", digest.base64)],
            body: ByteBuffer(bytes: bytes), payloadHash: payloadHash(digest))
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
        guard let etag = answer.headers.first(name: "etag") else {
            throw .invalidResponse(transport.location(fullKey), operation: call.operation, reason: "no ETag")
        }
        return etag
    }

    private func completeUpload(_ fullKey: String, uploadID: String, parts: [(number: Int, etag: String, checksum: String)]) async throws(ObjectStorageError) {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(XMLText.escape(part.etag))</ETag>"
            xml += "<ChecksumSHA256>\(part.checksum)</ChecksumSHA256></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let body = Array(xml.utf8)
        let call = S3Call(
            operation: "CompleteMultipartUpload", method: .POST, key: fullKey, query: [("uploadId", uploadID)],
            headers: [("content-type", "application/xml")],
            body: ByteBuffer(bytes: body), payloadHash: ObjectDigest.of(body).hex)
        let answer = try await transport.send(call)
        guard answer.isSuccess else { throw failure(answer, call) }
        // S3 may answer 200 and still fail the completion, with an <Error> body.
        let text = answer.bodyText
        if text.contains("<Error>") {
            let cause = S3ServiceError(status: answer.status, code: XMLText.first("Code", in: text), message: XMLText.first("Message", in: text))
            throw .unavailable(transport.location(fullKey), operation: call.operation, attempts: 1, cause: cause)
        }
    }

    /// Best effort: a failed abort leaves parts that the bucket's lifecycle rule or gc removes.
    private func abortUpload(_ fullKey: String, uploadID: String) async {
        let call = S3Call(operation: "AbortMultipartUpload", method: .DELETE, key: fullKey, query: [("uploadId", uploadID)])
        _ = try? await transport.send(call)
    }
}
