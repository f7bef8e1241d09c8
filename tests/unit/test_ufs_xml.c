/* lib/xml.c: the S3 document shapes, entities, and what it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct xml_node *parse_ok(const char *s)
{
	struct xml_node *root = NULL;
	char err[128] = "";
	int rc = xml_parse(s, strlen(s), &root, err, sizeof(err));
	if (rc)
		fail_msg("parse failed (%d: %s): %s", rc, err, s);
	return root;
}

static void test_list_result(void **state)
{
	const char *doc =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>bkt</Name><Prefix>a &amp; b/</Prefix><KeyCount>2</KeyCount>"
		"<IsTruncated>true</IsTruncated>"
		"<NextContinuationToken>tok&#43;en&#x3D;</NextContinuationToken>"
		"<!-- a comment -->"
		"<Contents><Key>a &amp; b/x&lt;y&gt;&quot;&apos;</Key><Size>12</Size>"
		"<ETag>&quot;abc&quot;</ETag></Contents>"
		"<Contents><Key>a &amp; b/\xc3\xbc &#252;&#x1F600;</Key><Size>0</Size></Contents>"
		"<CommonPrefixes><Prefix>a &amp; b/sub/</Prefix></CommonPrefixes>"
		"</ListBucketResult>\n";
	struct xml_node *root = parse_ok(doc);
	assert_string_equal(root->name, "ListBucketResult");
	assert_string_equal(xml_child_text(root, "Name"), "bkt");
	assert_string_equal(xml_child_text(root, "Prefix"), "a & b/");
	assert_string_equal(xml_child_text(root, "NextContinuationToken"), "tok+en=");
	const struct xml_node *c = xml_child(root, "Contents");
	assert_non_null(c);
	assert_string_equal(xml_child_text(c, "Key"), "a & b/x<y>\"'");
	assert_string_equal(xml_child_text(c, "ETag"), "\"abc\"");
	c = xml_next(c, "Contents");
	assert_non_null(c);
	assert_string_equal(xml_child_text(c, "Key"), "a & b/\xc3\xbc \xc3\xbc\xf0\x9f\x98\x80");
	assert_null(xml_next(c, "Contents"));
	assert_null(xml_child_text(root, "Missing"));
	const struct xml_node *cp = xml_child(root, "CommonPrefixes");
	assert_string_equal(xml_child_text(cp, "Prefix"), "a & b/sub/");
	xml_free(root);
}

static void test_misc_ok(void **state)
{
	struct xml_node *root = parse_ok("\xEF\xBB\xBF<s3:Error a='1' b = \"x&amp;y\">"
					 "<Code>NoSuchKey</Code><Empty/><E2 x=\"1\" />"
					 "<M><![CDATA[<raw> & ]]>tail</M></s3:Error> <!-- end -->");
	assert_string_equal(xml_local_name(root), "Error");
	assert_string_equal(xml_child_text(root, "Code"), "NoSuchKey");
	assert_string_equal(xml_child_text(root, "Empty"), "");
	assert_string_equal(xml_child_text(root, "E2"), "");
	assert_string_equal(xml_child_text(root, "M"), "<raw> & tail");
	xml_free(root);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"<a>",
		"<a></b>",
		"<a><b></a></b>",
		"<a>&unknown;</a>",
		"<a>& </a>",
		"<a>&#0;</a>",
		"<a>&#xD800;</a>",
		"<a>&#x110000;</a>",
		"<a>&#;</a>",
		"<a></a><b></b>",
		"text<a></a>",
		"<a></a>trailing",
		"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
		"<a b></a>",
		"<a b=c></a>",
		"<a b=\"<\"></a>",
		"<a b=\"1\"c=\"2\"></a>",
		"<a><!-- never closed </a>",
		"<a><![CDATA[ never closed </a>",
		"<1a></1a>",
		"</a>",
		"<a b=\"unterminated></a>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct xml_node *root = NULL;
		char err[128] = "";
		int rc = xml_parse(bad[i], strlen(bad[i]), &root, err, sizeof(err));
		if (rc != -EINVAL)
			fail_msg("case %zu \"%s\": got %d, want -EINVAL", i, bad[i], rc);
		assert_null(root);
		assert_true(err[0] != '\0');
	}
	const char with_nul[] = "<a>x\0y</a>";
	struct xml_node *root = NULL;
	assert_int_equal(xml_parse(with_nul, sizeof(with_nul) - 1, &root, NULL, 0), -EINVAL);
}

static void test_limits(void **state)
{
	size_t depth = XML_MAX_DEPTH + 1;
	char *deep = malloc(depth * 7 + 1);
	size_t o = 0;
	for (size_t i = 0; i < depth; i++)
		o += (size_t)sprintf(deep + o, "<a>");
	for (size_t i = 0; i < depth; i++)
		o += (size_t)sprintf(deep + o, "</a>");
	struct xml_node *root = NULL;
	assert_int_equal(xml_parse(deep, o, &root, NULL, 0), -E2BIG);
	/* exactly at the limit is fine */
	o = 0;
	for (size_t i = 0; i < XML_MAX_DEPTH; i++)
		o += (size_t)sprintf(deep + o, "<a>");
	for (size_t i = 0; i < XML_MAX_DEPTH; i++)
		o += (size_t)sprintf(deep + o, "</a>");
	assert_int_equal(xml_parse(deep, o, &root, NULL, 0), 0);
	xml_free(root);
	free(deep);

	size_t n = XML_MAX_NODES + 1;
	char *wide = malloc(n * 4 + 16);
	o = (size_t)sprintf(wide, "<r>");
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(wide + o, "<a/>");
	o += (size_t)sprintf(wide + o, "</r>");
	root = NULL;
	assert_int_equal(xml_parse(wide, o, &root, NULL, 0), -E2BIG);
	assert_null(root);
	free(wide);
	assert_int_equal(xml_parse("<a/>", (size_t)XML_MAX_INPUT + 1, &root, NULL, 0), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_result),
		cmocka_unit_test(test_misc_ok),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests_name("ufs_xml", tests, NULL, NULL);
}
